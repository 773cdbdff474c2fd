"""The paper's experiments as functions of an Experiment: one training run, iterative pruning
(the lottery ticket experiment) and one-shot pruning.

Each protocol checks everything it will read before training anything, and skips runs whose
directory is already complete (so re-running a finished or interrupted command redoes nothing
that was finished). Run directories and labels come from the catalog's naming rules.
"""

import os

from foundations import paths
from lottery_ticket import preflight
from lottery_ticket import progress
from lottery_ticket import recording
from lottery_ticket import rewinding
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import early_bird
from lottery_ticket.protocols import naming
from lottery_ticket.protocols.common import completed

def train_one_run(experiment):
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
    initial, start = experiment.start_point(initial)
  (run,) = catalog.get('train').run_dirs(config)
  source = naming.sparse_run_of(config.masks) if config.masks else None
  details = {'ticket_of': naming.sparse_kind_of_variant(source[0])} if source else {}
  if completed(run.run_dir) is None:
    experiment.train_recorded_run(run.run_dir, masks, initial, run.label, start_iteration=start,
                                  protocol='train', masks_from=config.masks, **details)


def dense_run(experiment, initial):
  """The trained weights of the trial's dense network (level 0), training it if needed.

  Level 0 always trains from θ0; with --rewind_iteration=k it saves θk on the way.
  """
  run = naming.dense_run(experiment.config)
  if completed(run.run_dir) is not None:
    return experiment.load_final_weights(run.run_dir)
  _, result = experiment.train_recorded_run(
      run.run_dir, experiment.full_masks(), initial, run.label,
      capture=rewinding.capture(experiment.config), protocol='lottery', level=0)
  return result.final_weights


def lottery(experiment):
  """Iterative pruning: train, prune the survivors, reset them, repeat.

  Level 0 is the dense network; level L has been pruned L times (--pruning: each layer by its
  own rate, or the prunable layers pooled), ranking survivors by --mask_criterion (magnitude:
  the paper's). Every pruned level restarts its survivors from θ0, or with --rewind_iteration=k
  from the dense run's θk at iteration k, under a fresh optimizer. Levels >= 1 of another
  criterion are recorded as level{L}/lottery_{criterion}, beside the shared dense level 0.
  With --early_bird_epsilon, early-bird tickets instead (protocols.early_bird).
  """
  if experiment.config.early_bird_epsilon:
    return early_bird.early_bird_lottery(experiment)
  dense, *levels = catalog.get('lottery').run_dirs(experiment.config)
  original = experiment.original_initial_weights()
  final = dense_run(experiment, original)
  masks = experiment.full_masks()
  start_weights = start = None
  for level, run in enumerate(levels, start=1):
    if completed(run.run_dir) is not None:
      masks = experiment.load_masks(os.path.join(run.run_dir, paths.MASKS))
      final = experiment.load_final_weights(run.run_dir)
      continue
    if start_weights is None:
      start_weights, start = experiment.start_point(original)
    masks = experiment.prune(masks, final, start_weights, level)
    summary, result = experiment.train_recorded_run(
        run.run_dir, masks, start_weights, run.label, start_iteration=start, protocol='lottery',
        level=level)
    dense_summary = recording.recorded_summary(dense.run_dir)
    print(f'[{run.label}] verdict: {progress.verdict(summary, dense_summary)}', flush=True)
    final = result.final_weights


def one_shot(experiment):
  """Train the dense network once (shared with the lottery experiment's level 0), prune it to
  each --percent_remaining in one step by --mask_criterion, reset the survivors (to θ0 or θk)
  and retrain. Another criterion than magnitude is recorded under one_shot_{criterion}/."""
  config = experiment.config
  pruners = {p: experiment.one_shot_pruner(p) for p in config.percent_remaining}  # checks first
  _, *runs = catalog.get('one_shot').run_dirs(config)
  original = experiment.original_initial_weights()
  final = dense_run(experiment, original)
  start_weights, start = experiment.start_point(original)
  for (percent, pruner), run in zip(pruners.items(), runs):
    if completed(run.run_dir) is None:
      masks = pruner(experiment.full_masks(), final, start_weights)
      experiment.train_recorded_run(run.run_dir, masks, start_weights, run.label,
                                    start_iteration=start, protocol='one_shot',
                                    target_percent_remaining=percent)
