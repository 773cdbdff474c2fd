"""Dense and Conv2D layers whose kernels are multiplied by a fixed 0/1 mask in the forward pass.

Applying the mask inside `call` (kernel * mask) means pruned weights receive exactly zero
gradient, so no optimizer can move them: there is no "re-zero after the step" to forget.
The mask is a non-trainable weight, so it is saved, restored and assigned like any other.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras


def _initializer(preset, default):
  """A Constant initializer for `preset` values, or `default` when there is no preset."""
  if preset is None:
    return default
  return keras.initializers.Constant(np.asarray(preset, dtype=np.float32))


class _MaskedKernelMixin:
  """Adds the `mask` weight to a layer with a `kernel`, and computes with kernel * mask."""

  def _init_presets(self, mask, presets, kwargs):
    presets = presets or {}
    kwargs['kernel_initializer'] = _initializer(
        presets.get('kernel'), kwargs.get('kernel_initializer', 'glorot_uniform'))
    kwargs['bias_initializer'] = _initializer(
        presets.get('bias'), kwargs.get('bias_initializer', 'zeros'))
    self._initial_mask = None if mask is None else np.asarray(mask, dtype=np.float32)
    return kwargs

  def build(self, input_shape):
    super().build(input_shape)
    self.mask = self.add_weight(
        name='mask', shape=self.kernel.shape, trainable=False, dtype=self.kernel.dtype,
        initializer=_initializer(self._initial_mask, 'ones'))

  @property
  def masked_kernel(self):
    return self.kernel * self.mask

  def call(self, inputs):
    outputs = self._linear(inputs, self.masked_kernel)
    if self.use_bias:
      outputs = tf.nn.bias_add(outputs, self.bias)
    return self.activation(outputs) if self.activation is not None else outputs


class MaskedDense(_MaskedKernelMixin, keras.layers.Dense):
  """A Dense layer computing activation(inputs @ (kernel * mask) + bias).

  Args:
    units: output width.
    mask: optional initial 0/1 mask of the kernel's shape (default all ones).
    presets: optional {'kernel': array, 'bias': array} initial values.
    **kwargs: passed to keras.layers.Dense.
  """

  def __init__(self, units, mask=None, presets=None, **kwargs):
    super().__init__(units, **self._init_presets(mask, presets, kwargs))

  def _linear(self, inputs, kernel):
    return tf.matmul(inputs, kernel)


class MaskedConv2D(_MaskedKernelMixin, keras.layers.Conv2D):
  """A Conv2D layer convolving with (kernel * mask); same contract as MaskedDense."""

  def __init__(self, filters, kernel_size, mask=None, presets=None, **kwargs):
    super().__init__(filters, kernel_size, **self._init_presets(mask, presets, kwargs))

  def _linear(self, inputs, kernel):
    return self.convolution_op(inputs, kernel)


MASKED_LAYER_TYPES = (MaskedDense, MaskedConv2D)


def masked_layers(model):
  """The model's masked layers in order, as {layer name: layer}."""
  return {layer.name: layer for layer in model.layers
          if isinstance(layer, MASKED_LAYER_TYPES)}


def add_dense_head(model, hidden_units, num_classes, dropout_rate=0.0, prefix='fc'):
  """Appends ReLU MaskedDense layers '{prefix}1'.. and a linear MaskedDense 'output'.

  All use Gaussian Glorot initialisation; with dropout_rate > 0 a Dropout layer follows each
  hidden layer (active only in training).
  """
  for index, units in enumerate(hidden_units, start=1):
    model.add(MaskedDense(units, activation='relu', kernel_initializer='glorot_normal',
                          name=f'{prefix}{index}'))
    if dropout_rate:
      model.add(keras.layers.Dropout(dropout_rate))
  model.add(MaskedDense(num_classes, kernel_initializer='glorot_normal', name='output'))
  return model
