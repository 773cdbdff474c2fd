"""The order in which training examples are visited: a fresh shuffle every epoch, from a seed.

The batches of iteration i are a pure function of (seed, i): epoch e is the permutation drawn
from the generator seeded with (seed, e), and the epochs are concatenated into one stream that is
cut into batches. So any range of iterations can be produced on its own, which makes training in
parts identical to training in full and a resumed run identical to an uninterrupted one.
"""

import numpy as np


class BatchOrder:
  """Per-epoch reshuffled minibatch indices into a training set of `num_examples`."""

  def __init__(self, num_examples, batch_size, seed):
    if batch_size > num_examples:
      raise ValueError(f'batch size {batch_size} exceeds the {num_examples} training examples')
    self.num_examples = num_examples
    self.batch_size = batch_size
    self.seed = int(seed)
    self._cache = {}

  def _epoch(self, epoch):
    if epoch not in self._cache:  # keeps one epoch: batches are requested in increasing order
      self._cache = {epoch: np.random.default_rng([self.seed, epoch]).permutation(
          self.num_examples).astype(np.int32)}
    return self._cache[epoch]

  def indices(self, start_iteration, num_iterations):
    """int32 array [num_iterations, batch_size] of example indices."""
    first = start_iteration * self.batch_size
    last = (start_iteration + num_iterations) * self.batch_size
    pieces = []
    position = first
    while position < last:
      epoch, offset = divmod(position, self.num_examples)
      take = min(self.num_examples - offset, last - position)
      pieces.append(self._epoch(epoch)[offset:offset + take])
      position += take
    return np.concatenate(pieces).reshape(num_iterations, self.batch_size)
