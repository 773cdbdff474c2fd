"""Reading and writing a masked model's weights and masks as numpy dicts keyed by layer name.

Weights are keyed '{layer}/kernel' and '{layer}/bias'; masks are keyed '{layer}'. These dicts
are what gets saved every round, so they are validated against the model before assignment.
"""

import numpy as np

from foundations import errors
from foundations import masked_layers


def get_masks(model):
  """{layer name: 0/1 float32 mask} for every masked layer."""
  return {name: layer.mask.numpy() for name, layer in masked_layers.masked_layers(model).items()}


def get_weights(model, masked=True):
  """{'{layer}/kernel' and '{layer}/bias': array} for every masked layer.

  With masked=True kernels are returned as kernel * mask, so pruned weights read exactly zero.
  """
  weights = {}
  for name, layer in masked_layers.masked_layers(model).items():
    kernel = layer.kernel.numpy()
    weights[f'{name}/kernel'] = kernel * layer.mask.numpy() if masked else kernel
    if layer.use_bias:
      weights[f'{name}/bias'] = layer.bias.numpy()
  return weights


def expected_mask_shapes(model):
  return {name: tuple(layer.kernel.shape)
          for name, layer in masked_layers.masked_layers(model).items()}


def expected_weight_shapes(model):
  shapes = {}
  for name, layer in masked_layers.masked_layers(model).items():
    shapes[f'{name}/kernel'] = tuple(layer.kernel.shape)
    if layer.use_bias:
      shapes[f'{name}/bias'] = tuple(layer.bias.shape)
  return shapes


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
  """Assigns kernels and biases; pruned positions are zeroed so stored kernels equal kernel*mask."""
  for name, layer in masked_layers.masked_layers(model).items():
    layer.kernel.assign(np.asarray(weights[f'{name}/kernel'], np.float32) * layer.mask.numpy())
    if layer.use_bias:
      layer.bias.assign(np.asarray(weights[f'{name}/bias'], np.float32))


def sample_initial_weights(model, seed):
  """Fresh initial weights drawn from each layer's own initializers, seeded per layer.

  This is how a trial gets its θ0 and how random reinitialisation gets a new one: the same
  distribution as the network's definition (e.g. Gaussian Glorot), a different draw per seed.
  """
  weights = {}
  for index, (name, layer) in enumerate(masked_layers.masked_layers(model).items()):
    for kind, initializer, variable in (('kernel', layer.kernel_initializer, layer.kernel),
                                        ('bias', layer.bias_initializer, layer.bias)):
      if variable is None:
        continue
      config = dict(initializer.get_config())
      if 'seed' in config:
        config['seed'] = int(seed) * 1009 + 2 * index + (kind == 'bias')
      values = type(initializer).from_config(config)(variable.shape, dtype='float32')
      weights[f'{name}/{kind}'] = np.asarray(values)
  return weights
