"""Control: a random mask with a lottery level's per-layer counts, trained from the original init."""

from cifar_conv import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('random_prune', constants.NETWORKS, constants.DEFAULT_DATASET)
