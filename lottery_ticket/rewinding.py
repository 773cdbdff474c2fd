"""Rewinding ("late resetting", Frankle et al., arXiv 1903.01611): pruned networks restart from
the dense network's weights at iteration k (θk) instead of θ0.

The dense run of a trial saves θk (every saved variable: kernels, biases, BatchNorm parameters
and statistics) as {trial dir}/rewind_iteration{k}.npz when it passes iteration k. Every pruned
run of the trial then starts from it at iteration k: the data order, augmentation and learning
rate schedule continue from k, and the optimizer state starts at zero (as open_lth does). With
k = 0 this is the paper's reset to θ0. Reading a saved θk, or recomputing a missing one, is
the Experiment's (recorded_runs.RecordedRuns.dense_weights_at); this module only names and
writes the files.
"""

import os

from foundations import paths
from foundations import save_restore


def point_path(config, iteration):
  """{trial dir}/rewind_iteration{k}.npz: θk of `config`'s trial."""
  return os.path.join(paths.trial_dir(config.output_dir, config.trial),
                      f'rewind_iteration{iteration}.npz')


def capture(config):
  """Trainer `capture` for the dense run: saves θk as it passes k (None if k = 0 or saved)."""
  k = config.rewind_iteration
  path = point_path(config, k)
  if k == 0 or os.path.isfile(path):
    return None
  return k, lambda weights: save_restore.save_arrays(path, weights)
