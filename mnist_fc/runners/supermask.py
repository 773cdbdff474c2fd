"""Masks learned on frozen random weights of LeNet-300-100 (edge-popup; --binarize: biprop)."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('supermask', constants.NETWORKS, constants.DEFAULT_DATASET)
