"""Pruning at initialization: SNIP, GraSP, SynFlow, |θ0| or random masks at θ0, trained once."""

from cifar_conv import constants
from lottery_ticket import runner

if __name__ == '__main__':
  runner.run('prune_at_init', constants.NETWORKS, constants.DEFAULT_DATASET)
