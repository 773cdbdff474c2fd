"""Plain tf_keras models from masked ones, and tensorflow-model-optimization's pruning wrappers.

A masked network (foundations.masked_layers) is cloned layer by layer: each MaskedDense or
MaskedConv2D becomes a standard Dense or Conv2D of the same configuration, every other layer a
copy of itself. tfmot's `prune_low_magnitude` then wraps those Dense and Conv2D layers, and
`strip_pruning` removes the wrappers again, so a ticket exported this way is the same kind of
object a tfmot user gets. Weights use model_state's keys: '{layer}/kernel', '{layer}/bias' and
the BatchNormalization variables. tfmot works on tf_keras (Keras 2) models only.
"""

import numpy as np
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper
import tf_keras as keras

from foundations import masked_layers

PRUNABLE_TYPES = (keras.layers.Dense, keras.layers.Conv2D)
_BATCH_NORM_VARIABLES = ('gamma', 'beta', 'moving_mean', 'moving_variance')


def _copy(layer):
  """A fresh layer of the same type and configuration (masked layers become plain ones)."""
  if isinstance(layer, masked_layers.MaskedDense):
    return keras.layers.Dense.from_config(layer.get_config())
  if isinstance(layer, masked_layers.MaskedConv2D):
    return keras.layers.Conv2D.from_config(layer.get_config())
  return layer.__class__.from_config(layer.get_config())


def plain_clone(model):
  """`model` with standard Dense/Conv2D layers in place of masked ones (fresh weights)."""
  return keras.models.clone_model(model, clone_function=_copy)


def wrap_for_pruning(model, schedules):
  """A clone of `model` with tfmot's prune_low_magnitude around the layers named in `schedules`.

  Args:
    model: a plain or masked tf_keras Sequential or functional model.
    schedules: {layer name: tfmot pruning schedule}; other layers are copied unwrapped.

  Returns:
    The wrapped model (fresh weights: assign them with set_weights).
  """
  def clone(layer):
    copy = _copy(layer)
    if layer.name in schedules:
      return tfmot.sparsity.keras.prune_low_magnitude(copy, pruning_schedule=schedules[layer.name])
    return copy
  return keras.models.clone_model(model, clone_function=clone)


def strip(model):
  """tfmot's strip_pruning: the same network with plain layers, as a tfmot user exports it."""
  return tfmot.sparsity.keras.strip_pruning(model)


def _inner_layers(model):
  """{name: layer} of the model's layers, looking through pruning wrappers."""
  layers = {}
  for layer in model.layers:
    inner = layer.layer if isinstance(layer, pruning_wrapper.PruneLowMagnitude) else layer
    layers[inner.name] = inner
  return layers


def _variables(model):
  """{key: variable} with model_state's keys for every Dense/Conv2D and BatchNorm variable."""
  variables = {}
  for name, layer in _inner_layers(model).items():
    if isinstance(layer, PRUNABLE_TYPES):
      variables[f'{name}/kernel'] = layer.kernel
      if layer.use_bias:
        variables[f'{name}/bias'] = layer.bias
    elif isinstance(layer, keras.layers.BatchNormalization):
      for kind in _BATCH_NORM_VARIABLES:
        if getattr(layer, kind) is not None:
          variables[f'{name}/{kind}'] = getattr(layer, kind)
  return variables


def get_weights(model):
  return {key: variable.numpy() for key, variable in _variables(model).items()}


def set_weights(model, weights):
  """Assigns every key of `weights` (all of the model's variables must be given)."""
  variables = _variables(model)
  if sorted(variables) != sorted(weights):
    raise ValueError(f'weights {sorted(weights)} do not match the model {sorted(variables)}')
  for key, variable in variables.items():
    variable.assign(np.asarray(weights[key], np.float32))


def pruning_masks(model):
  """{layer name: 0/1 mask} of every prune_low_magnitude wrapper in `model`."""
  masks = {}
  for layer in model.layers:
    if isinstance(layer, pruning_wrapper.PruneLowMagnitude):
      for weight, mask, _ in layer.pruning_vars:
        if weight is layer.layer.kernel:
          masks[layer.layer.name] = mask.numpy()
  return masks


def set_pruning_masks(model, masks):
  """Sets each wrapper's mask to masks[layer name]; the kernels are multiplied by it."""
  for layer in model.layers:
    if isinstance(layer, pruning_wrapper.PruneLowMagnitude):
      for weight, mask, _ in layer.pruning_vars:
        if weight is layer.layer.kernel:
          mask.assign(np.asarray(masks[layer.layer.name], np.float32))
          weight.assign(weight * mask)


def nonzero_masks(model, names):
  """{name: (kernel != 0) as 0/1 float32} for the layers `names`: masks read from the weights."""
  layers = _inner_layers(model)
  return {name: (layers[name].kernel.numpy() != 0).astype(np.float32) for name in names}


def sparse_model(masked_model, masks, weights):
  """The ticket as tfmot exports it: plain layers, pruned kernel entries exactly zero.

  Builds the plain network, wraps its prunable layers with prune_low_magnitude at each layer's
  own sparsity, sets the wrapped kernels to `weights` and the wrappers' masks to `masks`, and
  strips the wrappers.

  Args:
    masked_model: the network with masked layers (only its architecture is used).
    masks: {masked layer name: 0/1 mask}.
    weights: model_state-keyed weights (pruned kernel entries zero, as in final.npz).

  Returns:
    A plain tf_keras model.
  """
  schedules = {name: tfmot.sparsity.keras.ConstantSparsity(
      float(min(1 - np.mean(mask), 0.99)), begin_step=0) for name, mask in masks.items()}
  wrapped = wrap_for_pruning(masked_model, schedules)
  set_weights(wrapped, weights)
  set_pruning_masks(wrapped, masks)
  return strip(wrapped)
