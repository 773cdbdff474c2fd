"""The paper's experiments as functions of an Experiment: train, iterative pruning (the lottery
ticket experiment), one-shot pruning, and the random-reinitialisation and random-pruning controls.

Each protocol checks everything it will read before training anything, and skips runs whose
directory is already complete (so re-running a finished or interrupted command redoes nothing
that was finished).
"""

import os

import numpy as np

from foundations import errors
from foundations import model_state
from foundations import paths
from foundations import pruning
from foundations import save_restore
from lottery_ticket import preflight


def _label(experiment, level, name):
  return f'trial{experiment.config.trial} level{level} {name}'


def _completed(final_dir):
  """The summary of a finished run in final_dir, or None; a diverged run stops the protocol."""
  if not paths.is_complete(final_dir):
    return None
  summary = save_restore.load_json_object(os.path.join(final_dir, paths.SUMMARY))
  if summary.get('status') == 'diverged':
    raise errors.TrainingDivergedError(
        f'{final_dir} diverged earlier ({summary.get("error")}); delete it to retry')
  print(f'{final_dir}: already complete, not retrained', flush=True)
  return summary


def train(experiment):
  """One training run, optionally from --masks and --presets (files or run directories)."""
  config = experiment.config
  masks = experiment.full_masks()
  if config.masks:
    masks = experiment.load_masks(preflight.run_file(config.masks, paths.MASKS, 'masks'))
  initial = experiment.original_initial_weights()
  if config.presets:
    initial = experiment.load_weights(
        preflight.run_file(config.presets, paths.INITIAL_WEIGHTS, 'presets'))
  final_dir = os.path.join(paths.trial_dir(config.output_dir, config.trial), 'train')
  experiment.train(final_dir, masks, initial, f'trial{config.trial} train', experiment='train')


def lottery(experiment):
  """Iterative magnitude pruning: train, prune each layer's survivors, reset them to θ0, repeat.

  Level 0 is the dense network; level L has been pruned L times. Every level trains from the
  same θ0 (the trial's initialisation) under a fresh optimizer.
  """
  config = experiment.config
  initial = experiment.original_initial_weights()
  masks = experiment.full_masks()
  for level in range(config.levels + 1):
    final_dir = experiment.run_dir(level, 'lottery')
    if _completed(final_dir) is not None:
      masks = experiment.load_masks(os.path.join(final_dir, paths.MASKS))
      final = experiment.load_weights(os.path.join(final_dir, paths.FINAL_WEIGHTS))
    else:
      _, result = experiment.train(final_dir, masks, initial, _label(experiment, level, 'lottery'),
                                   experiment='lottery', level=level)
      final = result.final_weights
    if level < config.levels:
      masks = pruning.prune_by_percent(experiment.spec.prune_rates, masks, final)


def one_shot(experiment):
  """Train the dense network once (shared with the lottery experiment's level 0), prune it to
  each --percent_remaining in one step, reset the survivors to θ0 and retrain."""
  config = experiment.config
  initial = experiment.original_initial_weights()
  dense = experiment.full_masks()
  sizes = {name: mask.size for name, mask in dense.items()}
  targets = {p: pruning.one_shot_rates(experiment.spec.prune_rates, sizes, p)
             for p in config.percent_remaining}  # checks every target before training
  dense_dir = experiment.run_dir(0, 'lottery')
  if _completed(dense_dir) is not None:
    final = experiment.load_weights(os.path.join(dense_dir, paths.FINAL_WEIGHTS))
  else:
    _, result = experiment.train(dense_dir, dense, initial, _label(experiment, 0, 'lottery'),
                                 experiment='lottery', level=0)
    final = result.final_weights
  for percent, rates in targets.items():
    final_dir = os.path.join(paths.trial_dir(config.output_dir, config.trial), 'one_shot',
                             f'remaining{percent:g}')
    if _completed(final_dir) is None:
      masks = pruning.prune_by_percent(rates, dense, final)
      experiment.train(final_dir, masks, initial,
                       f'trial{config.trial} one-shot {percent:g}%', experiment='one_shot',
                       target_percent_remaining=percent)


def _control_inputs(experiment):
  """{level: lottery mask} for every --level, and θ0, checked before anything trains."""
  config = experiment.config
  masks = {}
  for level in config.control_levels:
    masks[level] = experiment.load_masks(preflight.control_masks_path(config, level))
  return masks, experiment.original_initial_weights()


def reinitialized_weights(experiment, original):
  """New initial weights per --reinit_mode, for the random-reinitialisation control.

  glorot: a fresh draw from the network's initializers. sample_original: each kernel value drawn
  (with replacement) from that layer's original initial values. sample_original_signs: the same
  magnitudes, with each weight's original sign (as the original code's reinitialize.py offered).
  """
  mode = experiment.config.reinit_mode
  seed = experiment.config.seed_for('reinit')
  if mode == 'glorot':
    return model_state.sample_initial_weights(experiment.model, seed)
  rng = np.random.default_rng(seed)
  weights = dict(original)
  for key, values in original.items():
    if key.endswith('/kernel'):
      sampled = rng.choice(values.ravel(), size=values.shape, replace=True)
      if mode == 'sample_original_signs':
        sampled = np.abs(sampled) * np.where(values < 0, -1.0, 1.0)
      weights[key] = sampled.astype(np.float32)
  return weights


def reinit(experiment):
  """Control: a winning ticket's mask trained from a new random initialisation."""
  level_masks, original = _control_inputs(experiment)
  mode = experiment.config.reinit_mode
  name = 'reinit' if mode == 'glorot' else f'reinit_{mode}'
  initial = reinitialized_weights(experiment, original)
  for level, masks in level_masks.items():
    final_dir = experiment.run_dir(level, name)
    if _completed(final_dir) is None:
      experiment.train(final_dir, masks, initial, _label(experiment, level, name),
                       experiment='reinit', reinit_mode=mode, level=level)


def random_prune(experiment):
  """Control: a random mask with the ticket's per-layer survivor counts, trained from θ0."""
  level_masks, original = _control_inputs(experiment)
  for level, masks in level_masks.items():
    final_dir = experiment.run_dir(level, 'random_prune')
    if _completed(final_dir) is None:
      rng = np.random.default_rng([experiment.config.seed_for('random_prune'), level])
      experiment.train(final_dir, pruning.random_masks_like(masks, rng), original,
                       _label(experiment, level, 'random_prune'), experiment='random_prune',
                       level=level)


PROTOCOLS = {'train': train, 'lottery': lottery, 'one_shot': one_shot, 'reinit': reinit,
             'random_prune': random_prune}
