"""Control: a lottery level's mask trained from a random reinitialisation."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('reinit', constants.NETWORKS, constants.DEFAULT_DATASET)
