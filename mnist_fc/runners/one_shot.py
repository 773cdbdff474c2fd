"""One-shot pruning of LeNet-300-100 to each --percent_remaining, reset to the original init."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('one_shot', constants.NETWORKS, constants.DEFAULT_DATASET)
