"""Masks learned on frozen random weights of Conv-2/4/6 (edge-popup; --binarize: biprop)."""

from lottery_ticket import runner
from cifar_conv import constants

if __name__ == '__main__':
  runner.run('supermask', constants.NETWORKS, constants.DEFAULT_DATASET)
