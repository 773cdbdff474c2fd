"""Pruning at initialization (DESIGN.md §13): choose the mask at θ0, before any training, and
train the sparse network once; with the sanity checks of Frankle, Dziugaite, Roy & Carbin (ICLR
2021) that ask whether the scores matter at all.

Each (method, ablation, percent remaining) is one recorded run in
trial{N}/prune_at_init/{variant}/remaining{P}/ (naming.pai_runs), trained from θ0 (or θk with
--rewind_iteration, the scores then taken at θk) with the network's paper settings; scores.npz
holds the keep scores it was pruned by (none for random). Masks keep exact counts: global scope
pools the prunable layers (the methods' own setting), layer-wise scope gives each layer its
share of iterative pruning at that size (as one-shot pruning does), with magnitude pruning's
tie-breaking (foundations.pruning).
"""

import numpy as np

from foundations import flops
from foundations import init_scores
from foundations import model_state
from foundations import pruning
from foundations import sparsity
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import naming
from lottery_ticket.protocols.common import completed

SCORED_BY_DATA = {'snip': init_scores.snip, 'grasp': init_scores.grasp}


def prune_at_init(experiment):
  """Every --method x --ablation x --percent_remaining run: score, prune once, train."""
  config = experiment.config
  variants = naming.pai_variants(config)
  pruner = _Pruner(experiment)
  for _, _, percent in variants:  # an unreachable target fails before anything trains
    pruner.layer_counts(percent)
  original = experiment.original_initial_weights()
  start_weights, start = experiment.start_point(original)
  pruner.set_start(start_weights)
  for (method, ablation, percent), run in zip(variants, catalog.get('prune_at_init').run_dirs(
      config)):
    if completed(run.run_dir) is not None:
      continue
    masks, scores = pruner.masks(method, ablation, percent)
    initial = (_reinitialized(experiment, start_weights, method, percent)
               if ablation == 'reinit' else start_weights)
    per_layer, fraction = flops.multiply_adds(experiment.model, masks)
    experiment.train_recorded_run(
        run.run_dir, masks, initial, run.label, start_iteration=start, protocol='prune_at_init',
        method=method, scope=config.pai_scope, ablation=ablation,
        sparsity_distribution=config.sparsity_distribution if method == 'random' else None,
        target_percent_remaining=percent, multiply_adds_remaining=fraction,
        multiply_adds={name: [int(m) for m in counts] for name, counts in per_layer.items()},
        collapsed_layers=[name for name, mask in masks.items() if not np.any(mask)],
        extra_files={'scores.npz': scores} if scores else None)


class _Pruner:
  """The masks of one trial's variants, scoring θ0 (or θk) once per data-scored method."""

  def __init__(self, experiment):
    self.experiment = experiment
    self.config, self.spec = experiment.config, experiment.spec
    self.dense = experiment.full_masks()
    self.shapes = {name: mask.shape for name, mask in self.dense.items()}
    self._start = None
    self._scores = {}

  def set_start(self, weights):
    self._start, self._scores = weights, {}

  def layer_counts(self, percent):
    """{layer: kept count} of the layer-wise share at `percent` (iterative pruning's
    proportions); raises UserInputError for an unreachable target."""
    if self.config.pai_scope == 'global':  # checks reachability of the pooled layers
      uniform = {f'{n}/kernel': m for n, m in self.dense.items()}  # only counts matter
      pruning.global_one_shot(self.spec.globally_pruned_layers, self.dense, uniform, percent)
    return self.experiment.layerwise_counts(percent)

  def _layerwise_rates(self, percent):
    """Per-layer rates reaching `percent` in iterative pruning's proportions."""
    return pruning.one_shot_rates(self.spec.prune_rates,
                                  {name: mask.size for name, mask in self.dense.items()},
                                  percent)

  def _model_at_start(self):
    model = self.experiment.model
    model_state.set_masks(model, self.dense)  # first: set_weights zeroes pruned positions
    model_state.set_weights(model, self._start)
    return model

  def _score_batches(self):
    order = self.experiment.batch_order()
    images, labels = self.experiment.dataset.train
    return [(images[i], labels[i]) for i in order.indices(0, self.config.score_batches)]

  def scores(self, method):
    """Keep scores of θ0 (or θk) by snip, grasp or magnitude (cached)."""
    if method not in self._scores:
      model = self._model_at_start()
      self._scores[method] = (init_scores.magnitude(model) if method == 'magnitude' else
                              SCORED_BY_DATA[method](model, self._score_batches()))
    return self._scores[method]

  def _select(self, keep, percent):
    if self.config.pai_scope == 'global':
      return pruning.global_one_shot(self.spec.globally_pruned_layers, self.dense, keep, percent)
    return pruning.prune_by_percent(self._layerwise_rates(percent), self.dense, keep)

  def masks(self, method, ablation, percent):
    """(masks, keep scores or None) of one variant."""
    config = self.config
    stream = (catalog.PAI_METHODS.index(method), int(round(percent * 1000)))
    if method == 'random':
      counts = sparsity.keep_counts(config.sparsity_distribution, self.shapes, percent,
                                    self.layer_counts(percent))
      rng = np.random.default_rng(config.seed_for('pai_random', *stream))
      return sparsity.random_masks(counts, self.shapes, rng), None
    if method == 'synflow':
      counts = None if config.pai_scope == 'global' else self.layer_counts(percent)
      masks, scores = init_scores.synflow(self._model_at_start(),
                                          self.spec.globally_pruned_layers, percent,
                                          config.synflow_rounds, layer_counts=counts)
    else:
      scores = self.scores(method)
      masks = self._select(scores, percent)
    if ablation == 'invert':  # each layer keeps its count, choosing its lowest scores
      if method == 'synflow':  # of the dense network (the last round's are of the pruned one)
        _, scores = init_scores.synflow(self._model_at_start(),
                                        self.spec.globally_pruned_layers, 100.0, rounds=1)
      masks = pruning.prune_to_counts(self.dense, {k: -v for k, v in scores.items()},
                                      pruning.remaining_weights(masks))
    if ablation == 'shuffle':
      rng = np.random.default_rng(config.seed_for('pai_shuffle', *stream))
      masks = {name: rng.permutation(mask.ravel()).reshape(mask.shape)
               for name, mask in masks.items()}
    return masks, scores


def _reinitialized(experiment, weights, method, percent):
  """`weights` with every masked kernel freshly initialised (the kept values change, the mask
  and everything else stay; the trainer applies the mask): the reinit sanity check."""
  seed = experiment.config.seed_for('pai_reinit', catalog.PAI_METHODS.index(method),
                                    int(round(percent * 1000)))
  fresh = model_state.sample_initial_weights(experiment.model, seed)
  kernels = {f'{name}/kernel' for name in experiment.full_masks()}
  return {key: fresh[key] if key in kernels else value for key, value in weights.items()}
