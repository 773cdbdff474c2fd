"""How many weights each layer keeps at a total density: the sparsity distributions of RigL.

Random pruning at initialization and dynamic sparse training (DESIGN.md §13-14) fix per-layer
counts before any training. 'uniform' gives every layer the same density; 'er' (Mocanu et al.)
density ∝ (n_in + n_out)/(n_in·n_out); 'erk' (Evci et al.) ∝ (n_in + n_out + k_h + k_w) /
(n_in·n_out·k_h·k_w) for convolutions and ER's formula for dense layers, as RigL does; 'paper'
takes the counts iterative pruning would keep. ER and ERK scale by one ε so the total matches; a
layer whose density would exceed 1 is made dense and ε solved again. Counts then sum exactly to
round-half-up(percent/100 × all weights) by largest-remainder rounding (ties: earlier layer).
Shapes are kernel shapes: Dense (n_in, n_out), Conv2D (k_h, k_w, n_in, n_out).
"""

import math

import numpy as np

from foundations import errors

DISTRIBUTIONS = ('uniform', 'er', 'erk', 'paper')


def _check(distribution, percent_remaining):
  if distribution not in DISTRIBUTIONS:
    raise errors.UserInputError(
        f'sparsity distribution {distribution!r}: expected one of {", ".join(DISTRIBUTIONS)}')
  try:
    valid = 0.0 < float(percent_remaining) <= 100.0
  except (TypeError, ValueError):
    valid = False
  if not valid:
    raise errors.UserInputError(
        f'--percent_remaining={percent_remaining}: expected a percent in (0, 100]')


def _sizes(layer_shapes):
  return {name: int(np.prod(shape)) for name, shape in layer_shapes.items()}


def raw_density(distribution, shape):
  """The unscaled density of a kernel of `shape` under 'er' or 'erk' (ε = 1)."""
  n_in, n_out = shape[-2], shape[-1]
  if distribution == 'er' or len(shape) == 2:
    return (n_in + n_out) / (n_in * n_out)
  k_h, k_w = shape[0], shape[1]
  return (n_in + n_out + k_h + k_w) / (n_in * n_out * k_h * k_w)


def densities(distribution, layer_shapes, percent_remaining):
  """{layer: density in (0, 1]} before rounding, for 'uniform', 'er' or 'erk'.

  The densities keep percent_remaining/100 of all the weights of `layer_shapes`.
  """
  _check(distribution, percent_remaining)
  if distribution == 'paper':
    raise errors.UserInputError("the 'paper' distribution has counts, not densities")
  fraction = float(percent_remaining) / 100.0
  if distribution == 'uniform' or fraction == 1.0:
    return {name: fraction for name in layer_shapes}
  sizes = _sizes(layer_shapes)
  raw = {name: raw_density(distribution, shape) for name, shape in layer_shapes.items()}
  dense = set()
  while True:
    scaled = [name for name in layer_shapes if name not in dense]
    budget = fraction * sum(sizes.values()) - sum(sizes[name] for name in dense)
    epsilon = budget / sum(raw[name] * sizes[name] for name in scaled)
    over = {name for name in scaled if epsilon * raw[name] > 1.0}
    if not over:
      return {name: 1.0 if name in dense else epsilon * raw[name] for name in layer_shapes}
    dense |= over  # the others then get more, so every layer over 1 stays over: cap them all


def _largest_remainder(real_counts, sizes, total):
  """Integer counts <= sizes summing to `total`: floors, then +1 by largest remainder."""
  counts = {name: min(int(math.floor(real)), sizes[name]) for name, real in real_counts.items()}
  order = sorted(real_counts, key=lambda name: counts[name] - real_counts[name])  # stable
  short = total - sum(counts.values())  # 0 <= short <= layers with a remainder
  for name in [name for name in order if counts[name] < sizes[name]][:short]:
    counts[name] += 1
  return counts


def _check_paper_counts(paper_counts, sizes):
  if paper_counts is None:
    raise errors.UserInputError(
        "the 'paper' distribution needs the counts iterative pruning keeps (paper_counts)")
  if sorted(paper_counts) != sorted(sizes):
    raise errors.UserInputError(
        f'paper_counts name layers {sorted(paper_counts)}, the network has {sorted(sizes)}')
  for name, count in paper_counts.items():
    if not 0 <= count <= sizes[name]:
      raise errors.UserInputError(f'paper_counts: {name} keeps {count} of {sizes[name]} weights')


def keep_counts(distribution, layer_shapes, percent_remaining, paper_counts=None):
  """{layer: weights kept} for `distribution` at `percent_remaining` of all the weights.

  Args:
    distribution: one of DISTRIBUTIONS.
    layer_shapes: {layer: kernel shape}, in layer order (ties in rounding go to earlier layers).
    percent_remaining: percent of all the weights of `layer_shapes` kept, in (0, 100].
    paper_counts: {layer: count}, required by (and only used by) 'paper'.

  Raises:
    errors.UserInputError: an unknown distribution, a bad percent, or bad paper_counts.
  """
  _check(distribution, percent_remaining)
  sizes = _sizes(layer_shapes)
  if distribution == 'paper':
    _check_paper_counts(paper_counts, sizes)
    return {name: int(paper_counts[name]) for name in layer_shapes}
  total = int(math.floor(float(percent_remaining) / 100.0 * sum(sizes.values()) + 0.5))
  layer_densities = densities(distribution, layer_shapes, percent_remaining)
  real_counts = {name: layer_densities[name] * sizes[name] for name in layer_shapes}
  return _largest_remainder(real_counts, sizes, total)


def random_masks(counts, layer_shapes, rng):
  """{layer: float32 0/1 mask of its kernel shape} with exactly counts[layer] ones, at positions
  drawn by `rng` (a numpy Generator)."""
  masks = {}
  for name, shape in layer_shapes.items():
    size = int(np.prod(shape))
    if not 0 <= counts[name] <= size:
      raise ValueError(f'{name}: cannot keep {counts[name]} of {size} weights')
    flat = np.zeros(size, np.float32)
    flat[rng.permutation(size)[:counts[name]]] = 1.0
    masks[name] = flat.reshape(shape)
  return masks
