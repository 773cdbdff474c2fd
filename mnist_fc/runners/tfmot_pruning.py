"""The tfmot baseline for LeNet-300-100: gradual magnitude pruning to each --percent_remaining."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('tfmot_pruning', constants.NETWORKS, constants.DEFAULT_DATASET)
