"""One-shot pruning of Conv-2/4/6 (--network) to each --percent_remaining, reset to the original init."""

from cifar_conv import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('one_shot', constants.NETWORKS, constants.DEFAULT_DATASET)
