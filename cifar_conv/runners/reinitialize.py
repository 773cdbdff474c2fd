"""Control: a lottery level's mask trained from a random reinitialisation."""

from cifar_conv import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('reinit', constants.NETWORKS, constants.DEFAULT_DATASET)
