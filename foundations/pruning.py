"""Pruning of surviving weights by score, layer-wise or global, and set operations on masks.

Layer-wise, each round removes exactly round(rate x survivors) of a layer's surviving weights,
those with the lowest scores. Global pruning removes round(rate x survivors) across all the
layers it covers, pooled. Scores come from foundations.mask_criteria: magnitude pruning, the
paper's rule, scores each weight by |final weight|. Ties are broken by position (lower flat
index first; globally, earlier layers first), so the result never depends on sort stability,
and already-pruned weights stay pruned.
"""

import math

import numpy as np

from foundations import errors


def check_rate(name, rate):
  if not 0.0 <= rate < 1.0:
    raise errors.UserInputError(f'prune rate for {name} is {rate}; expected a value in [0, 1)')


def count_to_remove(rate, survivors):
  """round(rate x survivors), rounding halves up (Python's round() would round them to even)."""
  return int(math.floor(rate * survivors + 0.5))


def lowest_first(scores, count):
  """Indices of the `count` lowest of the 1-D `scores`, ties (and NaNs, which rank last) by
  index, lower first: the set np.lexsort((index, scores))[:count] gives, found in O(n) by
  np.partition instead of a sort (pruning a 20M-weight network is then fast)."""
  if count <= 0:
    return np.zeros(0, np.int64)
  if count >= scores.size:
    return np.arange(scores.size)
  threshold = np.partition(scores, count - 1)[count - 1]
  if np.isnan(threshold):  # every number, then the first NaNs
    numbers = np.flatnonzero(~np.isnan(scores))
    return np.concatenate([numbers, np.flatnonzero(np.isnan(scores))[:count - numbers.size]])
  below = np.flatnonzero(scores < threshold)
  return np.concatenate([below, np.flatnonzero(scores == threshold)[:count - below.size]])


def prune_layer(mask, scores, rate):
  """A new mask with round(rate x survivors) more of this layer's weights removed, lowest
  scores first."""
  mask = np.asarray(mask)
  survivors = np.flatnonzero(mask.ravel())
  n_remove = count_to_remove(rate, survivors.size)
  survivor_scores = np.asarray(scores).ravel()[survivors]
  new_mask = mask.ravel().astype(np.float32)  # a copy
  new_mask[survivors[lowest_first(survivor_scores, n_remove)]] = 0.0  # survivors: by position
  return new_mask.reshape(mask.shape)


def prune_by_percent(rates, masks, scores):
  """Prunes every layer named in `rates` ({layer: fraction of survivors to remove}).

  Args:
    rates: {layer name: rate in [0, 1)}.
    masks: {layer name: current 0/1 mask}.
    scores: {'{layer}/kernel': score per weight, lowest removed first}, e.g.
      mask_criteria.scores('magnitude', ...) of the trained weights.

  Returns:
    {layer name: new mask}; layers without a rate keep their mask.
  """
  new_masks = {}
  for name, mask in masks.items():
    rate = rates.get(name, 0.0)
    check_rate(name, rate)
    new_masks[name] = prune_layer(mask, scores[f'{name}/kernel'], rate)
  return new_masks


def prune_global(layers, rate, masks, scores):
  """Removes round(rate x survivors of `layers`) of their weights, lowest scores first.

  Args:
    layers: names of the layers pruned together (the others keep their masks).
    rate: fraction of the pooled survivors to remove, in [0, 1).
    masks: {layer name: current 0/1 mask}.
    scores: {'{layer}/kernel': score per weight} (comparable across layers, e.g. |weight|).

  Returns:
    {layer name: new mask} for every layer in `masks`.
  """
  check_rate('global pruning', rate)
  survivors = [np.flatnonzero(np.asarray(masks[name]).ravel()) for name in layers]
  pooled_scores = np.concatenate([np.asarray(scores[f'{name}/kernel']).ravel()[s]
                                  for name, s in zip(layers, survivors)] or [np.zeros(0)])
  layer_index = np.concatenate([np.full(s.size, i) for i, s in enumerate(survivors)] or
                               [np.zeros(0, int)])
  position = np.concatenate(survivors or [np.zeros(0, int)])
  # Pooled in (layer, position) order, so ties go to earlier layers, then lower positions.
  removed = lowest_first(pooled_scores, count_to_remove(rate, pooled_scores.size))
  new_masks = {name: np.asarray(mask, np.float32).copy() for name, mask in masks.items()}
  for i, name in enumerate(layers):
    flat = new_masks[name].reshape(-1)
    flat[position[removed[layer_index[removed] == i]]] = 0.0
  return new_masks


def global_one_shot(layers, masks, scores, target_percent):
  """Globally pruned masks with `target_percent` of all weights (every layer) remaining.

  The layers outside `layers` are not pruned, so targets below their share are unreachable.
  """
  total = sum(np.asarray(mask).size for mask in masks.values())
  kept_elsewhere = sum(int(np.count_nonzero(masks[name])) for name in masks if name not in layers)
  pooled = sum(int(np.count_nonzero(masks[name])) for name in layers)
  to_keep = int(math.floor(target_percent / 100.0 * total + 0.5)) - kept_elsewhere
  if to_keep <= 0:
    raise errors.UserInputError(
        f'--percent_remaining={target_percent:g}: unreachable, layers that are never pruned '
        f'already hold {100.0 * kept_elsewhere / total:.2f}% of the weights')
  if to_keep >= pooled:
    return {name: np.asarray(mask, np.float32).copy() for name, mask in masks.items()}
  # count_to_remove(rate, pooled) == pooled - to_keep for this rate (halves round up).
  return prune_global(layers, (pooled - to_keep) / pooled, masks, scores)


def prune_to_counts(masks, scores, counts):
  """Each layer named in `counts` ({layer: survivors to keep}) pruned to that many survivors,
  lowest scores first; the other layers keep their masks."""
  new_masks = dict(masks)
  for name, count in counts.items():
    survivors = int(np.count_nonzero(masks[name]))
    if count < survivors:  # count_to_remove(rate, survivors) == survivors - count for this rate
      new_masks[name] = prune_layer(masks[name], scores[f'{name}/kernel'],
                                    (survivors - count) / survivors)
  return new_masks


def random_masks_like(masks, rng):
  """Random masks with exactly the same number of survivors per layer as `masks`."""
  random_masks = {}
  for name, mask in masks.items():
    flat = np.zeros(mask.size, dtype=np.float32)
    flat[rng.permutation(mask.size)[:int(np.count_nonzero(mask))]] = 1.0
    random_masks[name] = flat.reshape(mask.shape)
  return random_masks


def union(masks_a, masks_b):
  return {name: np.maximum(masks_a[name], masks_b[name]) for name in masks_a}


def intersection(masks_a, masks_b):
  return {name: np.minimum(masks_a[name], masks_b[name]) for name in masks_a}


def remaining_weights(masks):
  """{layer: surviving weight count}."""
  return {name: int(np.count_nonzero(mask)) for name, mask in masks.items()}


def percent_remaining(masks):
  """({layer: percent of its weights surviving}, percent of all masked weights surviving)."""
  per_layer = {name: 100.0 * np.count_nonzero(mask) / mask.size for name, mask in masks.items()}
  total = sum(mask.size for mask in masks.values())
  overall = 100.0 * sum(np.count_nonzero(mask) for mask in masks.values()) / total
  return per_layer, overall


def one_shot_rates(rates, layer_sizes, target_percent):
  """Per-layer rates that reach `target_percent` overall remaining in a single pruning step.

  The layers keep the proportions of iterative pruning: after k rounds layer l keeps
  (1 - rates[l])^k of its weights. k is solved (as a real number, by bisection) so the overall
  percent remaining equals the target, and each layer is pruned by 1 - (1 - rates[l])^k.

  Args:
    rates: {layer: per-round rate in [0, 1)}.
    layer_sizes: {layer: weight count}.
    target_percent: overall percent of weights to keep, in (0, 100].
  """
  for name, rate in rates.items():
    check_rate(name, rate)
  total = sum(layer_sizes.values())

  def percent_after(rounds):
    kept = sum(size * (1.0 - rates.get(name, 0.0)) ** rounds for name, size in layer_sizes.items())
    return 100.0 * kept / total

  floor = 100.0 * sum(size for name, size in layer_sizes.items() if rates.get(name, 0.0) == 0)
  if target_percent <= floor / total:
    raise errors.UserInputError(
        f'--percent_remaining={target_percent}: unreachable, layers that are never pruned '
        f'already hold {floor / total:.2f}% of the weights')
  low, high = 0.0, 1.0
  while percent_after(high) > target_percent:
    high *= 2
  for _ in range(200):
    middle = (low + high) / 2
    low, high = (middle, high) if percent_after(middle) > target_percent else (low, middle)
  return {name: 1.0 - (1.0 - rates.get(name, 0.0)) ** high for name in layer_sizes}
