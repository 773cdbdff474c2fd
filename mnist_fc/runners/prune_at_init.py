"""Pruning at initialization: SNIP, GraSP, SynFlow, |θ0| or random masks at θ0, trained once."""

from lottery_ticket import runner
from mnist_fc import constants

if __name__ == '__main__':
  runner.run('prune_at_init', constants.NETWORKS, constants.DEFAULT_DATASET)
