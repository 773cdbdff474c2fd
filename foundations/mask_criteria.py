"""How pruning ranks weights: the mask criteria of Zhou, Lan, Liu & Yosinski (NeurIPS 2019).

Each criterion turns a layer's starting weights w0 and trained weights wT into one score per
weight; pruning (foundations.pruning) removes the lowest scores first, with its usual exact
counts and tie-breaking by position.

  magnitude              |wT|   (the paper's rule; Zhou et al.'s "large final")
  large_init             |w0|
  magnitude_increase     |wT| - |w0|
  movement               |wT - w0|
  large_final_same_sign  |wT|, but weights whose sign flipped between w0 and wT come first for
                         removal (smallest |wT| first among them)
  random                 a uniform draw per weight (a random mask, drawn from `rng`)
"""

import numpy as np

CRITERIA = ('magnitude', 'large_init', 'magnitude_increase', 'movement',
            'large_final_same_sign', 'random')
NEEDS_INITIAL = ('large_init', 'magnitude_increase', 'movement', 'large_final_same_sign')


def layer_scores(criterion, initial, final, rng=None):
  """Scores (float64, lowest pruned first) of one layer's weights.

  Args:
    criterion: one of CRITERIA.
    initial: the layer's starting kernel w0 (unused by magnitude and random).
    final: its trained kernel wT.
    rng: a numpy Generator, for 'random'.
  """
  final = np.asarray(final, np.float64)
  if criterion == 'magnitude':
    return np.abs(final)
  if criterion == 'random':
    return rng.random(final.shape)
  initial = np.asarray(initial, np.float64)
  if criterion == 'large_init':
    return np.abs(initial)
  if criterion == 'magnitude_increase':
    return np.abs(final) - np.abs(initial)
  if criterion == 'movement':
    return np.abs(final - initial)
  if criterion == 'large_final_same_sign':
    flipped = np.sign(initial) * np.sign(final) < 0
    # -1/(1+|wT|) lies in [-1, 0) and grows with |wT|: below every kept-sign score (>= 0).
    return np.where(flipped, -1.0 / (1.0 + np.abs(final)), np.abs(final))
  raise ValueError(f'unknown mask criterion {criterion!r}; expected one of {CRITERIA}')


def scores(criterion, layers, initial_weights, final_weights, rng=None):
  """{'{layer}/kernel': scores} for each of `layers`, from weight dicts keyed the same way.

  Args:
    criterion: one of CRITERIA.
    layers: masked layer names.
    initial_weights: {'{layer}/kernel': w0}, or None for magnitude and random.
    final_weights: {'{layer}/kernel': wT}.
    rng: a numpy Generator, for 'random' (drawn from in the order of `layers`).
  """
  keys = [f'{name}/kernel' for name in layers]
  return {key: layer_scores(criterion, None if initial_weights is None else initial_weights[key],
                            final_weights[key], rng) for key in keys}
