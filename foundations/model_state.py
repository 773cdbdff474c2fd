"""Reading and writing a masked model's weights and masks as numpy dicts keyed by layer name.

Weights are keyed '{layer}/kernel' and '{layer}/bias' for masked layers, and '{layer}/gamma',
'/beta', '/moving_mean', '/moving_variance' for BatchNormalization layers (never pruned, but part
of a network's state: saved, reset and rewound with the weights). Masks are keyed '{layer}'.
These dicts are what gets saved every round, so they are validated before assignment.
"""

import numpy as np
import tf_keras as keras

from foundations import errors
from foundations import masked_layers

_BATCH_NORM_VARIABLES = ('gamma', 'beta', 'moving_mean', 'moving_variance')


def _state_variables(model):
  """[(key, variable, initializer, layer's mask or None)] of every saved variable, in order."""
  entries = []
  for layer in model.layers:
    if isinstance(layer, masked_layers.MASKED_LAYER_TYPES):
      entries.append((f'{layer.name}/kernel', layer.kernel, layer.kernel_initializer, layer.mask))
      if layer.use_bias:
        entries.append((f'{layer.name}/bias', layer.bias, layer.bias_initializer, None))
    elif isinstance(layer, keras.layers.BatchNormalization):
      for kind in _BATCH_NORM_VARIABLES:
        variable = getattr(layer, kind)
        if variable is not None:  # center=False or scale=False drop beta or gamma
          entries.append((f'{layer.name}/{kind}', variable,
                          getattr(layer, f'{kind}_initializer'), None))
  return entries


def random_states(model):
  """The state variables of `model`'s dropout random generators (created by a training call)."""
  return [layer._random_generator._generator.state  # pylint: disable=protected-access
          for layer in model.layers
          if getattr(getattr(layer, '_random_generator', None), '_generator', None) is not None]


def get_masks(model):
  """{layer name: 0/1 float32 mask} for every masked layer."""
  return {name: layer.mask.numpy() for name, layer in masked_layers.masked_layers(model).items()}


def get_weights(model, masked=True):
  """{key: array} of every masked layer's kernel and bias and every BatchNorm variable.

  With masked=True kernels are returned as kernel * mask, so pruned weights read exactly zero.
  """
  weights = {}
  for key, variable, _, mask in _state_variables(model):
    value = variable.numpy()
    weights[key] = value * mask.numpy() if masked and mask is not None else value
  return weights


def expected_mask_shapes(model):
  return {name: tuple(layer.kernel.shape)
          for name, layer in masked_layers.masked_layers(model).items()}


def expected_weight_shapes(model):
  return {key: tuple(variable.shape) for key, variable, _, _ in _state_variables(model)}


def check_arrays(arrays, expected_shapes, source):
  """Raises UserInputError unless `arrays` has exactly the expected keys and shapes."""
  missing = sorted(set(expected_shapes) - set(arrays))
  extra = sorted(set(arrays) - set(expected_shapes))
  if missing or extra:
    raise errors.UserInputError(
        f'{source}: layer names do not match the network: missing {missing}, unexpected {extra}')
  for key, shape in expected_shapes.items():
    if tuple(arrays[key].shape) != shape:
      raise errors.UserInputError(
          f'{source}: {key} has shape {tuple(arrays[key].shape)}, the network expects {shape}')


def check_masks(masks, model, source):
  """Raises UserInputError unless `masks` fit the model and hold only 0s and 1s."""
  check_arrays(masks, expected_mask_shapes(model), source)
  for name, mask in masks.items():
    if not np.all((mask == 0) | (mask == 1)):
      raise errors.UserInputError(f'{source}: mask {name} holds values other than 0 and 1')


def set_masks(model, masks):
  for name, layer in masked_layers.masked_layers(model).items():
    layer.mask.assign(np.asarray(masks[name], dtype=np.float32))


def set_weights(model, weights):
  """Assigns every saved variable; pruned positions are zeroed so kernels equal kernel*mask."""
  for key, variable, _, mask in _state_variables(model):
    value = np.asarray(weights[key], np.float32)
    variable.assign(value * mask.numpy() if mask is not None else value)


def sample_initial_weights(model, seed):
  """Fresh initial weights drawn from each layer's own initializers, seeded per layer.

  This is how a trial gets its θ0 and how random reinitialisation gets a new one: the same
  distribution as the network's definition (e.g. Gaussian Glorot), a different draw per seed.
  """
  weights = {}
  for index, (key, variable, initializer, _) in enumerate(_state_variables(model)):
    config = dict(initializer.get_config())
    if 'seed' in config:
      config['seed'] = int(seed) * 1009 + index
    values = type(initializer).from_config(config)(variable.shape, dtype='float32')
    weights[key] = np.asarray(values)
  return weights
