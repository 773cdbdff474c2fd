"""The tfmot baseline for Conv-2/4/6: gradual magnitude pruning to each --percent_remaining."""

from lottery_ticket import runner
from cifar_conv import constants

if __name__ == '__main__':
  runner.run('tfmot_pruning', constants.NETWORKS, constants.DEFAULT_DATASET)
