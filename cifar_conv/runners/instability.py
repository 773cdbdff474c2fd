"""Instability analysis: two copies of each --level's (sub)network from iteration k, interpolated."""

from cifar_conv import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('instability', constants.NETWORKS, constants.DEFAULT_DATASET)
