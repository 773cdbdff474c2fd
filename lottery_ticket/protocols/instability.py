"""Instability analysis (Frankle, Dziugaite, Roy, Carbin, "Linear Mode Connectivity and the
Lottery Ticket Hypothesis", ICML 2020): is a (sub)network at iteration k stable to SGD noise?

For each mask and spawn iteration k, two copies start from the trial's dense network at k (θ0
for k = 0; the state rewinding uses) with the mask applied, and train to the end under different
data orders and augmentation, everything else equal. The test error, and the error on a fixed
training subset, are evaluated along (1 - α)·W₁ + α·W₂; instability is the largest error on the
path minus the mean of the endpoints' errors, in percentage points, and below STABLE_POINTS the
network is stable. Networks with BatchNorm have its statistics recomputed at every α.

Each (mask, k) gets {output_dir}/trial{N}/instability/{masks}/spawn{k}/ with the copies' run
directories copy1/ and copy2/, interpolation.csv and summary.json (written last).
"""

import os

import numpy as np

from foundations import batching
from foundations import interpolation
from foundations import paths
from foundations import pruning
from foundations import save_restore
from lottery_ticket import preflight
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import naming
from lottery_ticket.protocols.common import completed

STABLE_POINTS = 2.0
COPIES = (1, 2)
INTERPOLATION = 'interpolation.csv'
BATCH_NORM_BATCHES = 10  # training batches over which BatchNorm statistics are recomputed


def extra_splits(experiment):
  """The Experiment's extra_splits hook: the fixed training subset train error is measured on."""
  return {'train_subset': experiment.train_subset()}


def _mask_sets(experiment):
  """[(name, masks, details)]: each --level's lottery masks (level 0: dense) and --masks, or
  with --control=random_prune random masks of the same per-layer counts. Checked up front."""
  config = experiment.config
  sets = []
  for level in config.ticket_levels:
    name = naming.instability_mask_name(level=level, control=config.control)
    if level == 0:
      sets.append((name, experiment.full_masks(), {'level': 0}))
      continue
    path = preflight.control_masks_path(config, level)
    sets.append((name, experiment.load_masks(path), {'level': level}))
  if config.masks:
    path = os.path.abspath(preflight.run_file(config.masks, paths.MASKS, 'masks'))
    name = naming.instability_mask_name(masks_path=path, control=config.control)
    sets.append((name, experiment.load_masks(path), {'masks_path': path}))
  if config.control == 'random_prune':
    sets = [(name,
             pruning.random_masks_like(masks, np.random.default_rng(
                 [config.seed_for('random_prune'), details.get('level', index + 1000)])),
             dict(details, control='random_prune'))
            for index, (name, masks, details) in enumerate(sets)]
  return sets


def copy_seeds(config, copy):
  """(data order seed, augmentation seed) of one copy: the copies differ in these only."""
  return config.seed_for('copy_data_order', copy), config.seed_for('copy_augment', copy)


def _train_copy(experiment, directory, copy, masks, start_weights, spawn_iteration, details):
  """The final weights of one copy, trained (or read back if complete) in directory/copy{N}."""
  run_dir = os.path.join(directory, f'copy{copy}')
  if completed(run_dir) is not None:
    return experiment.load_weights(os.path.join(run_dir, paths.FINAL_WEIGHTS))
  config = experiment.config
  order_seed, augment_seed = copy_seeds(config, copy)
  order = batching.BatchOrder(experiment.trainer.num_train_examples, config.batch_size,
                              order_seed)
  label = f'trial{config.trial} {os.path.basename(os.path.dirname(directory))} ' \
          f'k={spawn_iteration} copy{copy}'
  _, result = experiment.train_recorded_run(run_dir, masks, start_weights, label,
                                            start_iteration=spawn_iteration, batch_order=order,
                                            augment_seed=augment_seed,
                                            protocol='instability_copy', copy=copy,
                                            spawn_iteration=spawn_iteration,
                                            data_order_seed=order_seed,
                                            copy_augment_seed=augment_seed, **details)
  return result.final_weights


def _batch_norm_batches(experiment):
  images = experiment.dataset.train[0]
  size = experiment.config.batch_size
  return [images[i * size:(i + 1) * size] for i in range(BATCH_NORM_BATCHES)
          if (i + 1) * size <= len(images)]


def analyse(experiment, directory, name, masks, start_weights, spawn_iteration, details):
  """Trains the two copies of one (mask, k) and writes interpolation.csv and summary.json."""
  config = experiment.config
  finals = [_train_copy(experiment, directory, copy, masks, start_weights, spawn_iteration,
                        details) for copy in COPIES]
  has_batch_norm = bool(interpolation.batch_norm_layers(experiment.model))
  curve = interpolation.error_curve(
      experiment.trainer, masks, finals[0], finals[1],
      np.linspace(0.0, 1.0, config.interpolation_points),
      {'test': 'test', 'train': 'train_subset'},
      _batch_norm_batches(experiment) if has_batch_norm else ())
  experiment.claim_output_dir()
  save_restore.save_csv(os.path.join(directory, INTERPOLATION), curve)
  _, percent = pruning.percent_remaining(masks)
  summary = dict(
      details, experiment='instability', status='complete', masks=name,
      network=experiment.spec.name,
      dataset=config.dataset, trial=config.trial, seed=config.seed,
      training_iterations=config.training_iterations, spawn_iteration=spawn_iteration,
      percent_remaining=percent, interpolation_points=config.interpolation_points,
      batch_norm_recomputed=has_batch_norm, stable_threshold_points=STABLE_POINTS,
      endpoint_test_accuracy=[1 - curve['test_error'].iloc[0], 1 - curve['test_error'].iloc[-1]],
      endpoint_train_accuracy=[1 - curve['train_error'].iloc[0],
                               1 - curve['train_error'].iloc[-1]])
  for split in ('test', 'train'):
    points = 100 * interpolation.instability(curve[f'{split}_error'])
    summary[f'instability_{split}_points'] = points
    summary[f'stable_{split}'] = points < STABLE_POINTS
  save_restore.save_json(os.path.join(directory, paths.SUMMARY), summary)
  print(f'[trial{config.trial} {name} k={spawn_iteration}] instability '
        f'{summary["instability_test_points"]:.2f} points on test, '
        f'{summary["instability_train_points"]:.2f} on train: '
        f'{"stable" if summary["stable_test"] else "unstable"} ({percent:.1f}% remaining)',
        flush=True)
  return summary


def instability(experiment):
  """The instability runner: every (mask, k) of --level/--masks/--control x --spawn_iterations."""
  config = experiment.config
  sets = _mask_sets(experiment)
  original = experiment.original_initial_weights()
  runs = iter(catalog.get('instability').run_dirs(config))
  for name, masks, details in sets:
    for k in config.spawn_iterations:
      directory = next(runs).run_dir
      if completed(directory) is not None:
        continue
      analyse(experiment, directory, name, masks,
              experiment.dense_weights_at(original, k), k, details)
