"""Instability analysis: two copies of each --level's (sub)network from iteration k, interpolated."""

from mnist_fc import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('instability', constants.NETWORKS, constants.DEFAULT_DATASET)
