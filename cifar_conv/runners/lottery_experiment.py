"""The lottery ticket experiment on Conv-2/4/6 (--network): iterative magnitude pruning, --levels rounds."""

from cifar_conv import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('lottery', constants.NETWORKS, constants.DEFAULT_DATASET)
