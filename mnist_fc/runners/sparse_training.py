"""Dynamic sparse training: RigL, SET or static sparse masks trained from θ0, never dense."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('sparse_training', constants.NETWORKS, constants.DEFAULT_DATASET)
