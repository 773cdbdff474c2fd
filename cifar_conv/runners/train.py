"""One training run of Conv-2/4/6 (--network), optionally from saved masks and initial weights."""

from cifar_conv import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('train', constants.NETWORKS, constants.DEFAULT_DATASET)
