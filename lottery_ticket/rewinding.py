"""Rewinding ("late resetting", Frankle et al., arXiv 1903.01611): pruned networks restart from
the dense network's weights at iteration k (θk) instead of θ0.

The dense run of a trial saves θk (every saved variable: kernels, biases, BatchNorm parameters
and statistics) as {trial dir}/rewind_iteration{k}.npz when it passes iteration k. Every pruned
run of the trial then starts from it at iteration k: the data order, augmentation and learning
rate schedule continue from k, and the optimizer state starts at zero (as open_lth does). With
k = 0 this is the paper's reset to θ0.
"""

import os

from foundations import paths
from foundations import save_restore


def point_path(experiment, iteration):
  config = experiment.config
  return os.path.join(paths.trial_dir(config.output_dir, config.trial),
                      f'rewind_iteration{iteration}.npz')


def capture(experiment):
  """Trainer `capture` for the dense run: saves θk as it passes k (None if k = 0 or saved)."""
  k = experiment.config.rewind_iteration
  path = point_path(experiment, k)
  if k == 0 or os.path.isfile(path):
    return None
  return k, lambda weights: save_restore.save_arrays(path, weights)


def dense_weights_at(experiment, original, iteration):
  """The trial's dense network at `iteration`: θ0 for 0, else the saved (or recomputed) θk.

  If the dense run did not save θk (it ran with another --rewind_iteration, or an older
  version), θk is recomputed by training the dense network from θ0 for k iterations, which
  reproduces the dense run's state at k bit for bit (the data order is a function of the
  iteration; evaluations change no weights, so only the end is evaluated), and saved.
  """
  if iteration == 0:
    return original
  path = point_path(experiment, iteration)
  if not os.path.isfile(path):
    experiment.claim_output_dir()
    print(f'[trial{experiment.config.trial}] computing the dense network at iteration '
          f'{iteration}', flush=True)
    result = experiment.trainer.train(original, experiment.full_masks(), iteration,
                                      experiment.batch_order(), eval_interval=iteration)
    save_restore.save_arrays(path, result.final_weights)
  return experiment.load_weights(path)


def start_point(experiment, original):
  """(weights, iteration) that pruned runs of this trial start from: (θ0, 0) or (θk, k)."""
  k = experiment.config.rewind_iteration
  return dense_weights_at(experiment, original, k), k
