"""Dynamic sparse training's mask updates (DESIGN.md §14): RigL and SET move the mask during
training, with the same number of weights in every layer throughout.

Every `update_interval` iterations t before `update_end_iteration` (T_end), each masked layer drops
floor(f(t)·active) of its active weights, f(t) = α/2·(1 + cos(π t / T_end)), those with the
smallest |w| (ties: lower flat index first, as foundations.pruning), and grows as many among the
positions that were inactive before the update (so not the ones just dropped): where the dense
gradient |∂L/∂w| of the batch of step t is largest (RigL, Evci et al. 2020; ties: lower flat
index first) or at random positions (SET, Mocanu et al. 2018; a generator seeded by the run's
seed, the iteration and the layer, so a resumed run draws the same). A layer with fewer inactive
positions than that (a dense one) moves fewer. Dropped and grown weights are set to 0 with zero
optimizer state, so a grown weight starts at 0 and a dropped one cannot drift back.

The updates run between the trainer's compiled calls (Trainer.train's `mask_updater`), in numpy:
one per `update_interval` steps, not one per step.
"""

import math

import numpy as np
import pandas as pd

from foundations import masked_layers
from foundations import optimizers

COLUMNS = ('iteration', 'layer', 'active', 'dropped', 'grown', 'drop_fraction')


def drop_fraction_at(iteration, drop_fraction, update_end_iteration):
  """f(t) = α/2·(1 + cos(π t / T_end)) for t < T_end, else 0 (the mask is frozen)."""
  if iteration >= update_end_iteration:
    return 0.0
  return drop_fraction / 2.0 * (1.0 + math.cos(math.pi * iteration / update_end_iteration))


def update_iterations(update_interval, update_end_iteration, training_iterations):
  """The iterations t (steps done before the update) at which the mask moves: multiples of
  update_interval below both T_end and the end of training."""
  return tuple(range(update_interval, min(update_end_iteration, training_iterations),
                     update_interval))


def drop_and_grow(mask, kernel, fraction, grow_scores):
  """One layer's update: (new mask, dropped flat indices, grown flat indices).

  Args:
    mask: the layer's 0/1 mask.
    kernel: its kernel (inactive positions hold 0).
    fraction: the fraction of active weights to drop (f(t)).
    grow_scores: an array of the kernel's shape; the highest-scored previously inactive
      positions grow (RigL: |dense gradient|; SET: uniform random numbers).
  """
  flat = np.asarray(mask).ravel() > 0
  active, inactive = np.flatnonzero(flat), np.flatnonzero(~flat)
  count = min(int(math.floor(fraction * active.size)), inactive.size)
  if count == 0:
    return np.asarray(mask), active[:0], inactive[:0]
  order = np.argsort(np.abs(np.asarray(kernel).ravel()[active]), kind='stable')
  dropped = active[order[:count]]
  order = np.argsort(-np.asarray(grow_scores, np.float64).ravel()[inactive], kind='stable')
  grown = inactive[order[:count]]
  new = flat.astype(np.float32)
  new[dropped], new[grown] = 0.0, 1.0
  return new.reshape(np.shape(mask)), dropped, grown


class MaskUpdater:
  """The trainer's hook for RigL or SET (Trainer.train(mask_updater=...)).

  Args:
    model: the masked model the trainer trains.
    optimizer: its optimizer (the state of changed positions is zeroed).
    method: 'rigl' or 'set'.
    update_interval, drop_fraction, update_end_iteration: ΔT, α and T_end.
    training_iterations: the run's last iteration.
    seed: SET's random positions (with the iteration and the layer's index).
    dense_gradients: callable(batch indices, iteration) -> [gradient of each masked layer's
      kernel with every mask all ones] (train_step.DenseGradients), for RigL.
  """

  def __init__(self, model, optimizer, method, update_interval, drop_fraction,
               update_end_iteration, training_iterations, seed, dense_gradients):
    if method not in ('rigl', 'set'):
      raise ValueError(f'mask updates of {method!r}: expected rigl or set')
    self.method = method
    self.drop_fraction = drop_fraction
    self.update_end_iteration = update_end_iteration
    self.iterations = update_iterations(update_interval, update_end_iteration,
                                        training_iterations)
    self.seed = seed
    self._layers = list(masked_layers.masked_layers(model).items())
    self._optimizer = optimizer
    self._dense_gradients = dense_gradients
    self._rows = []

  def start(self, state=None):
    """A new run (no state) or one resumed from a checkpoint's state()."""
    rows = [] if state is None else np.asarray(state['rows']).tolist()
    self._rows = [tuple(int(v) for v in row[:5]) + (float(row[5]),) for row in rows]

  def state(self):
    """{name: array} for a checkpoint: the updates so far."""
    return {'rows': np.array(self._rows, np.float64).reshape(-1, len(COLUMNS))}

  def history(self):
    """One row per update and layer: COLUMNS, the layer by name."""
    names = [name for name, _ in self._layers]
    rows = [(r[0], names[r[1]]) + r[2:] for r in self._rows]
    return pd.DataFrame(rows, columns=list(COLUMNS))

  def __call__(self, iteration, batch_indices):
    """Moves every layer's mask before step `iteration` (batch_indices: that step's batch)."""
    fraction = drop_fraction_at(iteration, self.drop_fraction, self.update_end_iteration)
    if self.method == 'rigl':
      gradients = self._dense_gradients(batch_indices, iteration)
    for index, (_, layer) in enumerate(self._layers):
      kernel = layer.kernel.numpy()
      if self.method == 'rigl':
        scores = np.abs(np.asarray(gradients[index], np.float64))
      else:
        scores = np.random.default_rng([self.seed, iteration, index]).random(kernel.size)
      mask, dropped, grown = drop_and_grow(layer.mask.numpy(), kernel, fraction, scores)
      changed = np.concatenate([dropped, grown])
      if changed.size:
        layer.mask.assign(mask)
        layer.kernel.assign(_zeroed(kernel, changed))
        for slot in optimizers.slot_variables(self._optimizer, layer.kernel):
          slot.assign(_zeroed(slot.numpy(), changed))
      self._rows.append((iteration, index, int(mask.sum()), dropped.size, grown.size, fraction))


def _zeroed(array, flat_indices):
  flat = array.reshape(-1).copy()
  flat[flat_indices] = 0
  return flat.reshape(array.shape)
