"""The paper's controls of a winning ticket: its mask from a random reinitialisation (reinit),
and a random mask of the same per-layer counts (random_prune).

Each of --control_trials has its own seeds and directory (the catalog's naming rule).
"""

import itertools

import numpy as np

from foundations import model_state
from foundations import pruning
from lottery_ticket import preflight
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols.common import completed


def _control_inputs(experiment):
  """{level: lottery mask} for every --level, and θ0, checked before anything trains."""
  config = experiment.config
  masks = {}
  for level in config.ticket_levels:
    masks[level] = experiment.load_masks(preflight.control_masks_path(config, level))
  return masks, experiment.original_initial_weights()


def control_seed(experiment, purpose, control_trial):
  """The seed of control `control_trial` ('reinit' or 'random_prune'): the first keeps the
  trial's seed of that purpose, others get their own."""
  config = experiment.config
  return (config.seed_for(purpose) if control_trial == 1
          else config.seed_for(purpose, control_trial))


def _control_details(control_trial):
  return {} if control_trial == 1 else {'control_trial': control_trial}


def reinitialized_weights(experiment, original, masks, level, control_trial=1):
  """New initial weights per --reinit_mode, for the random-reinitialisation control.

  glorot: a fresh draw from the network's initializers. sample_original: each kernel value drawn
  (with replacement) from that layer's original initial values. sample_original_signs: the same
  magnitudes, with each weight's original sign (as the original code's reinitialize.py offered).
  signed_constant: sign(w0) x the standard deviation of the layer's w0 (Zhou et al. 2019).
  reshuffle: the layer's surviving w0 values permuted among its surviving positions (a new draw
  per level, since the survivors differ). Biases keep their original values except for glorot.
  Control `control_trial` k >= 2 of a ticket draws from its own seed.
  """
  mode = experiment.config.reinit_mode
  seed = control_seed(experiment, 'reinit', control_trial)
  if mode == 'glorot':
    return model_state.sample_initial_weights(experiment.model, seed)
  rng = np.random.default_rng([seed, level] if mode == 'reshuffle' else seed)
  weights = dict(original)
  for key, values in original.items():
    if not key.endswith('/kernel'):
      continue
    if mode == 'signed_constant':
      new = np.where(values < 0, -1.0, 1.0) * values.std()
    elif mode == 'reshuffle':
      new = values.copy()
      survivors = np.flatnonzero(masks[key[:-len('/kernel')]].ravel())
      new.reshape(-1)[survivors] = values.ravel()[rng.permutation(survivors)]
    else:
      new = rng.choice(values.ravel(), size=values.shape, replace=True)
      if mode == 'sample_original_signs':
        new = np.abs(new) * np.where(values < 0, -1.0, 1.0)
    weights[key] = new.astype(np.float32)
  return weights


def _named_runs(experiment, name):
  """{(control trial, level): catalog.Run} of the control `name`."""
  config = experiment.config
  keys = itertools.product(config.control_trials, config.ticket_levels)
  return dict(zip(keys, catalog.get(name).run_dirs(config)))


def reinit(experiment):
  """Control: a winning ticket's mask trained from a new random initialisation.

  With --rewind_iteration=k the new weights start at iteration k, like the ticket they control.
  Each of --control_trials has its own draw (control_seed) and directory (the catalog's rule).
  """
  level_masks, original = _control_inputs(experiment)
  mode = experiment.config.reinit_mode
  runs = _named_runs(experiment, 'reinit')
  start = experiment.config.rewind_iteration
  for control_trial in experiment.config.control_trials:
    initial = None
    for level, masks in level_masks.items():
      run = runs[control_trial, level]
      if completed(run.run_dir) is None:
        if initial is None or mode == 'reshuffle':  # the others: one draw for every level
          initial = reinitialized_weights(experiment, original, masks, level, control_trial)
        experiment.train_recorded_run(run.run_dir, masks, initial, run.label,
                                      start_iteration=start, protocol='reinit',
                                      reinit_mode=mode, level=level,
                                      **_control_details(control_trial))


def random_prune(experiment):
  """Control: a random mask with the ticket's per-layer survivor counts, trained from θ0 (θk).

  Each of --control_trials draws its own masks (control_seed) into its own directory.
  """
  level_masks, original = _control_inputs(experiment)
  runs = _named_runs(experiment, 'random_prune')
  start_weights = start = None
  for control_trial in experiment.config.control_trials:
    for level, masks in level_masks.items():
      run = runs[control_trial, level]
      if completed(run.run_dir) is None:
        if start_weights is None:
          start_weights, start = experiment.start_point(original)
        rng = np.random.default_rng([control_seed(experiment, 'random_prune', control_trial),
                                     level])
        experiment.train_recorded_run(run.run_dir, pruning.random_masks_like(masks, rng),
                                      start_weights, run.label, start_iteration=start,
                                      protocol='random_prune', level=level,
                                      **_control_details(control_trial))
