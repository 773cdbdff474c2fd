"""Dynamic sparse training (DESIGN.md §14): never dense. Each run starts from θ0 under a random
mask with --sparsity_distribution's per-layer counts (ERK by default) and keeps those counts
while the mask moves: RigL grows where the dense gradient is largest, SET at random, static never
moves (the control). The update rule is foundations.mask_updates'.

Each (method, percent remaining) is one recorded run in trial{N}/sparse_training/{method}_
{distribution}/remaining{P}/ (naming.sparse_runs): masks.npz is the final mask, mask_updates.csv
the drops and grows of every update and layer. The methods of one size and distribution start
from the same mask and θ0, so static is exactly where RigL and SET began. `train --masks=RUN`
retrains a final mask from θ0 (naming.train_runs: sparse_training/{variant}_ticket/).
"""

import numpy as np

from foundations import mask_updates
from foundations import sparsity
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import naming
from lottery_ticket.protocols.common import completed


def sparse_training(experiment):
  """Every --method x --percent_remaining run, from θ0 under its initial random mask."""
  config = experiment.config
  initial_masks = {percent: _initial_masks(experiment, percent)  # a bad size fails first
                   for percent in config.percent_remaining}
  original = experiment.original_initial_weights()
  runs = catalog.get('sparse_training').run_dirs(config)
  for (method, percent), run in zip(naming.sparse_variants(config), runs):
    if completed(run.run_dir) is not None:
      continue
    updater = _updater(experiment, method, percent)
    experiment.train_recorded_run(
        run.run_dir, initial_masks[percent], original, run.label, protocol='sparse_training',
        method=method, sparsity_distribution=config.sparsity_distribution,
        target_percent_remaining=percent, update_interval=config.update_interval,
        drop_fraction=config.drop_fraction, update_end=config.update_end,
        mask_update_iterations=list(updater.iterations) if updater else [],
        mask_updater=updater)


def _initial_masks(experiment, percent):
  """The random mask every method of this size and distribution starts from."""
  config = experiment.config
  shapes = {name: mask.shape for name, mask in experiment.full_masks().items()}
  paper = (experiment.layerwise_counts(percent) if config.sparsity_distribution == 'paper'
           else None)
  counts = sparsity.keep_counts(config.sparsity_distribution, shapes, percent, paper)
  seed = config.seed_for('sparse_mask', sparsity.DISTRIBUTIONS.index(
      config.sparsity_distribution), int(round(percent * 1000)))
  return sparsity.random_masks(counts, shapes, np.random.default_rng(seed))


def _updater(experiment, method, percent):
  """The trainer's mask updater of `method` (None for static)."""
  if method == 'static':
    return None
  config, trainer = experiment.config, experiment.trainer
  return mask_updates.MaskUpdater(
      trainer.model, trainer.optimizer, method, config.update_interval, config.drop_fraction,
      int(round(config.update_end * config.training_iterations)), config.training_iterations,
      config.seed_for('sparse_set', int(round(percent * 1000))), trainer.dense_gradients)
