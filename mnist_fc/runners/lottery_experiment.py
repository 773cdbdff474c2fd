"""The lottery ticket experiment on LeNet-300-100: iterative magnitude pruning, --levels rounds."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('lottery', constants.NETWORKS, constants.DEFAULT_DATASET)
