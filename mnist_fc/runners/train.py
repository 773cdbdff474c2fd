"""One training run of LeNet-300-100, optionally from saved masks and initial weights."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('train', constants.NETWORKS, constants.DEFAULT_DATASET)
