"""Forward multiply-adds per example of a masked network, pruned and dense.

Sparse networks are compared by the work their forward pass needs: a Dense layer does one
multiply-add per kept kernel weight, a Conv2D layer one per kept kernel weight and output spatial
position (every position counted with the whole kernel, the usual convention for 'same' padding).
"""

import numpy as np
import tf_keras as keras

from foundations import masked_layers


def output_positions(layer):
  """Output spatial positions of a Conv2D layer (1 for a Dense layer), from its output shape."""
  if not isinstance(layer, keras.layers.Conv2D):
    return 1
  shape = layer.output_shape
  height, width = shape[1:3] if layer.data_format == 'channels_last' else shape[2:4]
  return int(height) * int(width)


def dense_multiply_adds(layer):
  """Per-example forward multiply-adds of one built Dense or Conv2D layer, masked or plain."""
  return int(np.prod(layer.kernel.shape)) * output_positions(layer)


def multiply_adds(model, masks):
  """Per-example forward multiply-adds of every masked layer, with `masks` and dense.

  Only masked layers (foundations.masked_layers) are counted: biases, BatchNorm, pooling,
  activations and any layer without a mask add nothing to either count.

  Args:
    model: a built model (its layers' output shapes are known).
    masks: {layer: 0/1 mask} of every masked layer, e.g. model_state.get_masks(model).

  Returns:
    ({layer: (masked multiply-adds, dense multiply-adds)}, masked total / dense total).
  """
  per_layer = {}
  for name, layer in masked_layers.masked_layers(model).items():
    kept = int(np.count_nonzero(np.asarray(masks[name])))
    per_layer[name] = (kept * output_positions(layer), dense_multiply_adds(layer))
  masked_total = sum(masked for masked, _ in per_layer.values())
  dense_total = sum(dense for _, dense in per_layer.values())
  return per_layer, masked_total / dense_total
