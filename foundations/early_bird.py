"""Early-bird detection (You et al., ICLR 2020; DESIGN.md §16): at each evaluation of a dense run,
the mask the next pruning step would draw from the current weights, and its normalised Hamming
distance to the previous evaluation's mask (the `mask_distance` column of metrics.csv).

When the largest distance over the last few evaluations falls below ε, the ticket has emerged:
the mask barely moves any more, so pruning could happen then instead of after full training.
"""

import numpy as np

COLUMN = 'mask_distance'
WINDOW = 5  # evaluations the rule looks back over (You et al.)


def hamming_distance(masks_a, masks_b):
  """The fraction of all masked positions where the two masks differ."""
  differing = sum(int(np.count_nonzero((masks_a[n] > 0) != (masks_b[n] > 0))) for n in masks_a)
  return differing / sum(mask.size for mask in masks_a.values())


def emerged(distances, epsilon, window=WINDOW):
  """The index of the first evaluation at which the last `window` distances (NaN: none yet) are
  all below `epsilon`, or None."""
  distances = np.asarray(distances, np.float64)
  for end in range(window, len(distances) + 1):
    recent = distances[end - window:end]
    if not np.isnan(recent).any() and recent.max() < epsilon:
      return end - 1
  return None


class MaskDistance:
  """A trainer's evaluation tracker: called with the weights at each evaluation, it returns
  {'mask_distance': distance to the previous evaluation's mask} (NaN at the first).

  Args:
    draw_masks: weights {key: array} -> masks {layer: 0/1 array}, the next pruning step's.
  """
  columns = (COLUMN,)

  def __init__(self, draw_masks):
    self._draw = draw_masks
    self._previous = None

  def start(self, state=None):
    """Begins a run: afresh, or from a checkpoint's state() (a resumed run's distances are
    those of the uninterrupted run)."""
    self._previous = {name: mask.astype(np.float32) for name, mask in state.items()} \
        if state else None

  def __call__(self, weights):
    masks = self._draw(weights)
    distance = (float('nan') if self._previous is None
                else hamming_distance(self._previous, masks))
    self._previous = masks
    return {COLUMN: distance}

  def state(self):
    """The previous evaluation's mask, as uint8 arrays (for a checkpoint)."""
    return {} if self._previous is None else {
        name: (mask > 0).astype(np.uint8) for name, mask in self._previous.items()}
