"""Linear interpolation between two trained networks, and BatchNorm statistics recomputed for
the interpolated weights (Frankle et al., "Linear Mode Connectivity and the LTH", ICML 2020).

Both endpoints share one mask, so every point (1 - α)·W₁ + α·W₂ is the same sparse network: the
masked model zeroes pruned positions when the weights are assigned. α = 0 and α = 1 give W₁ and
W₂ exactly (1·w + 0·w' = w in floating point).

The moving statistics of an interpolated network are not the interpolation of the endpoints'
statistics, so networks with BatchNorm have them recomputed at every α: reset, then the
cumulative average of the batch statistics over a fixed set of training batches.
"""

import numpy as np
import pandas as pd
import tf_keras as keras

from foundations import model_state


def interpolate(weights_a, weights_b, alpha):
  """{key: (1 - alpha) * a + alpha * b} over the keys of two weight dicts.

  Entries equal in a and b are kept exactly (so identical networks give a flat path), and
  alpha = 0 and 1 return a and b exactly.
  """
  alpha = np.float32(alpha)
  return {key: np.where(value == weights_b[key], value,
                        (np.float32(1) - alpha) * value + alpha * weights_b[key])
          for key, value in weights_a.items()}


def error_curve(trainer, masks, weights_a, weights_b, alphas, splits, batch_norm_batches=()):
  """Errors of the interpolated networks: a DataFrame with a row per alpha.

  Args:
    trainer: a foundations.trainer.Trainer of the network (its evaluate() is used).
    masks: the mask both endpoints share.
    weights_a, weights_b: the endpoints, as from model_state.get_weights.
    alphas: the interpolation coefficients.
    splits: {column prefix: trainer split name}, e.g. {'test': 'test', 'train': 'train_subset'}.
    batch_norm_batches: training input batches for recompute_batch_norm (ignored without BN).

  Returns:
    Columns alpha, then {prefix}_error and {prefix}_loss for each split.
  """
  rows = []
  for alpha in alphas:
    model_state.set_masks(trainer.model, masks)
    model_state.set_weights(trainer.model, interpolate(weights_a, weights_b, alpha))
    recompute_batch_norm(trainer.model, batch_norm_batches)
    row = {'alpha': float(alpha)}
    for prefix, split in splits.items():
      result = trainer.evaluate(split)
      row[f'{prefix}_error'] = 1.0 - result[f'{split}_accuracy']
      row[f'{prefix}_loss'] = result[f'{split}_loss']
    rows.append(row)
  return pd.DataFrame(rows)


def instability(errors):
  """Max error along the path minus the mean of the endpoints' errors (same units)."""
  errors = np.asarray(errors, dtype=np.float64)
  return float(errors.max() - (errors[0] + errors[-1]) / 2)


def batch_norm_layers(model):
  return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_batch_norm(model, batches):
  """Sets every BatchNorm layer's moving mean and variance to the average of its batch
  statistics over `batches` (an iterable of input arrays), run in training mode, eagerly."""
  layers = batch_norm_layers(model)
  if not layers:
    return
  momenta = [layer.momentum for layer in layers]
  for layer in layers:
    layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, np.float32))
    layer.moving_variance.assign(np.ones(layer.moving_variance.shape, np.float32))
  try:
    for index, images in enumerate(batches):
      for layer in layers:  # moving = moving * i/(i+1) + batch / (i+1): the running average
        layer.momentum = index / (index + 1)
      model(images, training=True)
  finally:
    for layer, momentum in zip(layers, momenta):
      layer.momentum = momentum
