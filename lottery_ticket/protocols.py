"""The paper's experiments as functions of an Experiment: train, iterative pruning (the lottery
ticket experiment), one-shot pruning, and the random-reinitialisation and random-pruning controls.

Each protocol checks everything it will read before training anything, and skips runs whose
directory is already complete (so re-running a finished or interrupted command redoes nothing
that was finished).
"""

import os

import numpy as np

from foundations import locking
from foundations import model_state
from foundations import paths
from foundations import pruning
from lottery_ticket import preflight
from lottery_ticket import progress
from lottery_ticket import recording
from lottery_ticket import rewinding


def _label(experiment, level, name):
  return f'trial{experiment.config.trial} level{level} {name}'


def completed(final_dir):
  """The summary of a finished run in final_dir, or None; a diverged run stops the protocol."""
  if not paths.is_complete(final_dir):
    return None
  locking.remove_abandoned_claim(final_dir)  # a claimant killed as it finished
  summary = recording.recorded_summary(final_dir)
  print(f'{final_dir}: already complete, not retrained', flush=True)
  return summary


def train(experiment):
  """One training run, optionally from --masks and --presets (files or run directories).

  With --rewind_iteration=k > 0 and no --presets it starts from the trial's θk at iteration k.
  """
  config = experiment.config
  masks = experiment.full_masks()
  if config.masks:
    masks = experiment.load_masks(preflight.run_file(config.masks, paths.MASKS, 'masks'))
  initial, start = experiment.original_initial_weights(), 0
  if config.presets:
    initial = experiment.load_weights(
        preflight.run_file(config.presets, paths.INITIAL_WEIGHTS, 'presets'))
  else:
    initial, start = rewinding.start_point(experiment, initial)
  final_dir = os.path.join(paths.trial_dir(config.output_dir, config.trial), 'train')
  if completed(final_dir) is None:
    experiment.train(final_dir, masks, initial, f'trial{config.trial} train',
                     start_iteration=start, experiment='train')


def _dense_run(experiment, initial):
  """The trained weights of the trial's dense network (level 0), training it if needed.

  Level 0 always trains from θ0; with --rewind_iteration=k it saves θk on the way.
  """
  final_dir = experiment.run_dir(0, 'lottery')
  if completed(final_dir) is not None:
    return experiment.load_final_weights(final_dir)
  _, result = experiment.train(final_dir, experiment.full_masks(), initial,
                               _label(experiment, 0, 'lottery'),
                               capture=rewinding.capture(experiment), experiment='lottery',
                               level=0)
  return result.final_weights


def lottery(experiment):
  """Iterative pruning: train, prune the survivors, reset them, repeat.

  Level 0 is the dense network; level L has been pruned L times (--pruning: each layer by its
  own rate, or the prunable layers pooled), ranking survivors by --mask_criterion (magnitude:
  the paper's). Every pruned level restarts its survivors from θ0, or with --rewind_iteration=k
  from the dense run's θk at iteration k, under a fresh optimizer. Levels >= 1 of another
  criterion are recorded as level{L}/lottery_{criterion}, beside the shared dense level 0.
  """
  config = experiment.config
  kind = experiment.criterion_kind('lottery')
  original = experiment.original_initial_weights()
  final = _dense_run(experiment, original)
  masks = experiment.full_masks()
  start_weights = start = None
  for level in range(1, config.levels + 1):
    final_dir = experiment.run_dir(level, kind)
    if completed(final_dir) is not None:
      masks = experiment.load_masks(os.path.join(final_dir, paths.MASKS))
      final = experiment.load_final_weights(final_dir)
      continue
    if start_weights is None:
      start_weights, start = rewinding.start_point(experiment, original)
    masks = experiment.prune(masks, final, start_weights, level)
    summary, result = experiment.train(final_dir, masks, start_weights,
                                       _label(experiment, level, kind), start_iteration=start,
                                       experiment='lottery', level=level)
    _print_verdict(experiment, level, kind, summary)
    final = result.final_weights


def _print_verdict(experiment, level, kind, summary):
  """One line: does the level's ticket match the trial's dense network, does it stop earlier."""
  dense = recording.recorded_summary(experiment.run_dir(0, 'lottery'))
  print(f'[{_label(experiment, level, kind)}] verdict: {progress.verdict(summary, dense)}',
        flush=True)


def one_shot(experiment):
  """Train the dense network once (shared with the lottery experiment's level 0), prune it to
  each --percent_remaining in one step by --mask_criterion, reset the survivors (to θ0 or θk)
  and retrain. Another criterion than magnitude is recorded under one_shot_{criterion}/."""
  config = experiment.config
  kind = experiment.criterion_kind('one_shot')
  pruners = {p: experiment.one_shot_pruner(p) for p in config.percent_remaining}  # checks first
  original = experiment.original_initial_weights()
  final = _dense_run(experiment, original)
  start_weights, start = rewinding.start_point(experiment, original)
  for percent, pruner in pruners.items():
    final_dir = paths.remaining_dir(config.output_dir, config.trial, kind, percent)
    if completed(final_dir) is None:
      experiment.train(final_dir, pruner(experiment.full_masks(), final, start_weights),
                       start_weights, f'trial{config.trial} {kind.replace("_", "-", 1)} '
                       f'{percent:g}%',
                       start_iteration=start, experiment='one_shot',
                       target_percent_remaining=percent)


def _control_inputs(experiment):
  """{level: lottery mask} for every --level, and θ0, checked before anything trains."""
  config = experiment.config
  masks = {}
  for level in config.control_levels:
    masks[level] = experiment.load_masks(preflight.control_masks_path(config, level))
  return masks, experiment.original_initial_weights()


control_name = paths.control_name


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


def reinit(experiment):
  """Control: a winning ticket's mask trained from a new random initialisation.

  With --rewind_iteration=k the new weights start at iteration k, like the ticket they control.
  Each of --control_trials has its own draw (control_seed) and directory (control_name).
  """
  level_masks, original = _control_inputs(experiment)
  mode = experiment.config.reinit_mode
  name = 'reinit' if mode == 'glorot' else f'reinit_{mode}'
  start = experiment.config.rewind_iteration
  for control_trial in experiment.config.control_trials:
    initial = None
    run_name = control_name(name, control_trial)
    for level, masks in level_masks.items():
      final_dir = experiment.run_dir(level, run_name)
      if completed(final_dir) is None:
        if initial is None or mode == 'reshuffle':  # the others: one draw for every level
          initial = reinitialized_weights(experiment, original, masks, level, control_trial)
        experiment.train(final_dir, masks, initial, _label(experiment, level, run_name),
                         start_iteration=start, experiment='reinit', reinit_mode=mode,
                         level=level, **_control_details(control_trial))


def random_prune(experiment):
  """Control: a random mask with the ticket's per-layer survivor counts, trained from θ0 (θk).

  Each of --control_trials draws its own masks (control_seed) into its own directory.
  """
  level_masks, original = _control_inputs(experiment)
  start_weights = start = None
  for control_trial in experiment.config.control_trials:
    run_name = control_name('random_prune', control_trial)
    for level, masks in level_masks.items():
      final_dir = experiment.run_dir(level, run_name)
      if completed(final_dir) is None:
        if start_weights is None:
          start_weights, start = rewinding.start_point(experiment, original)
        rng = np.random.default_rng([control_seed(experiment, 'random_prune', control_trial),
                                     level])
        experiment.train(final_dir, pruning.random_masks_like(masks, rng), start_weights,
                         _label(experiment, level, run_name), start_iteration=start,
                         experiment='random_prune', level=level,
                         **_control_details(control_trial))


PROTOCOLS = {'train': train, 'lottery': lottery, 'one_shot': one_shot, 'reinit': reinit,
             'random_prune': random_prune}
