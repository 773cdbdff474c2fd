"""The pruning policy of an Experiment: --mask_criterion's scores, one round of pruning per
--pruning, and one-shot pruning to a target."""

import numpy as np

from foundations import early_bird
from foundations import mask_criteria
from foundations import pruning


class PruningPolicy:
  """Experiment's pruning (a base class: it reads self.config, self.spec and self.full_masks)."""

  def scores(self, masks, final_weights, initial_weights, *stream):
    """--mask_criterion's scores of the masked layers' weights (mask_criteria.scores).

    `initial_weights` is w0, the weights pruned networks restart from (θ0, or θk when
    rewinding); `stream` (e.g. the level) selects the draw of the 'random' criterion.
    """
    criterion = self.config.mask_criterion
    rng = (np.random.default_rng(self.config.seed_for('mask_criterion', *stream))
           if criterion == 'random' else None)
    return mask_criteria.scores(criterion, masks, initial_weights, final_weights, rng)

  def prune(self, masks, final_weights, initial_weights=None, level=0):
    """One round of pruning per --pruning (each layer by its rate, or the prunable layers
    pooled), ranking the survivors by --mask_criterion; `level` is the level being made."""
    scores = self.scores(masks, final_weights, initial_weights, level)
    if self.config.pruning == 'global':
      return pruning.prune_global(self.spec.globally_pruned_layers, self.spec.global_prune_rate,
                                  masks, scores)
    return pruning.prune_by_percent(self.spec.prune_rates, masks, scores)

  def one_shot_pruner(self, percent_remaining):
    """A function (dense masks, trained weights, w0) -> masks with `percent_remaining` left.

    Layer-wise, each layer keeps the share it would after iterative pruning to that size
    (pruning.one_shot_rates); globally, the prunable layers are pooled. Survivors are ranked by
    --mask_criterion. Raises UserInputError for an unreachable target, before anything trains.
    """
    dense = self.full_masks()
    stream = (0, int(round(percent_remaining * 1000)))  # apart from the levels' streams

    def scores(masks, weights, initial):
      return self.scores(masks, weights, initial, *stream)

    if self.config.pruning == 'global':
      layers = self.spec.globally_pruned_layers
      # Checks reachability now (with zero scores), prunes the trained weights later.
      pruning.global_one_shot(layers, dense, {f'{n}/kernel': m for n, m in dense.items()},
                              percent_remaining)
      return lambda masks, weights, initial=None: pruning.global_one_shot(
          layers, masks, scores(masks, weights, initial), percent_remaining)
    rates = pruning.one_shot_rates(self.spec.prune_rates,
                                   {name: mask.size for name, mask in dense.items()},
                                   percent_remaining)
    return lambda masks, weights, initial=None: pruning.prune_by_percent(
        rates, masks, scores(masks, weights, initial))

  def layerwise_counts(self, percent_remaining):
    """{layer: weights kept} of iterative pruning's per-layer shares at `percent_remaining` (the
    'paper' sparsity distribution); raises UserInputError for an unreachable target."""
    dense = self.full_masks()
    rates = pruning.one_shot_rates(self.spec.prune_rates,
                                   {name: mask.size for name, mask in dense.items()},
                                   percent_remaining)
    uniform = {f'{name}/kernel': mask for name, mask in dense.items()}  # only counts matter
    return pruning.remaining_weights(pruning.prune_by_percent(rates, dense, uniform))

  def mask_tracker(self, masks, initial_weights, level):
    """An early_bird.MaskDistance: at each evaluation, the mask the pruning step making
    `level` would draw from the weights under `masks`, and its distance to the previous one."""
    return early_bird.MaskDistance(
        lambda weights: self.prune(masks, weights, initial_weights, level))

  def early_bird_tracker(self, masks, initial_weights):
    """mask_tracker for a dense run (every mask all ones, weights trained), toward level 1;
    None for any other run."""
    if self.config.protocol_spec.frozen_weights or not all(
        np.all(mask > 0) for mask in masks.values()):
      return None
    return self.mask_tracker(self.full_masks(), initial_weights, 1)
