"""Dense and Conv2D layers whose kernels are multiplied by a fixed 0/1 mask in the forward pass.

Applying the mask inside `call` (kernel * mask) means pruned weights receive exactly zero
gradient, so no optimizer can move them: there is no "re-zero after the step" to forget.
The mask is a non-trainable weight, so it is saved, restored and assigned like any other.

Two variants (DESIGN.md §10):
  binarize = True on a masked layer: the forward pass uses α·sign(kernel)·mask, α = mean |kernel|
    over the kept weights; the gradient goes straight through onto the latent real kernel.
  SupermaskDense / SupermaskConv2D: the kernel and bias are frozen and a trainable score per
    weight decides the mask, the `keep_count` largest |score| of the layer (edge-popup; with
    binarize, biprop's α·sign(kernel)·mask).
"""

import contextlib
import math
import threading

import numpy as np
import tensorflow as tf
import tf_keras as keras

from foundations import top_k_mask


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
    self.mask = self.add_weight(  # the variable dtype (float32) under mixed precision too
        name='mask', shape=self.kernel.shape, trainable=False, dtype=self.dtype,
        initializer=_initializer(self._initial_mask, 'ones'))

  binarize = False  # a Python attribute: set it before the layer is traced

  @property
  def masked_kernel(self):
    """The kernel the forward pass uses: kernel * mask, or α·sign(kernel)·mask if binarized."""
    if self.binarize:
      return binary_kernel(self.kernel, self.mask)
    if getattr(_TRACING, 'pruned_weights_are_zero', False):
      return _masked_gradient(self.kernel, self.mask)
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


_TRACING = threading.local()


@contextlib.contextmanager
def pruned_weights_are_zero():
  """Masked layers traced inside it skip the forward multiply kernel * mask, for callers that
  keep every pruned kernel entry exactly zero (the trainer: model_state.set_weights and
  foundations.mask_updates zero them, and masked gradients keep them zero). The gradient is
  still masked, so results are bit for bit those of kernel * mask, one pass over every weight
  per step cheaper (benchmarks.train_throughput's masking overhead)."""
  previous = getattr(_TRACING, 'pruned_weights_are_zero', False)
  _TRACING.pruned_weights_are_zero = True
  try:
    yield
  finally:
    _TRACING.pruned_weights_are_zero = previous


@tf.custom_gradient
def _masked_gradient(kernel, mask):
  """The kernel forward (its pruned entries are zero already); backward as kernel * mask:
  ∂L/∂kernel = upstream · mask, ∂L/∂mask = upstream · kernel."""
  mask = tf.cast(mask, kernel.dtype)

  def gradient(upstream):
    return upstream * mask, upstream * kernel

  return tf.identity(kernel), gradient


def _alpha(kernel, mask):
  """Mean |kernel| over the kept weights (0 if none are kept)."""
  return tf.reduce_sum(tf.abs(kernel) * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


@tf.custom_gradient
def binary_kernel(kernel, mask):
  """α·sign(kernel)·mask forward; backward ∂L/∂kernel = ∂L/∂W_eff · mask (straight through sign
  and α), so the optimizer updates the latent real weights and pruned ones stay put."""
  mask = tf.cast(mask, kernel.dtype)

  def gradient(upstream):
    return upstream * mask, tf.zeros_like(mask)

  return _alpha(kernel, mask) * tf.sign(kernel) * mask, gradient


def _supermask_kernel(binarize):
  """W_eff from (frozen weights W, scores s, keep_count): W·m (edge-popup) or α·sign(W)·m
  (biprop), m = top_mask(s). Backward: ∂L/∂s = ∂L/∂W_eff · W · sign(s), the mask treated as
  the identity and α as a constant; nothing flows to W."""

  @tf.custom_gradient
  def kernel_fn(weights, scores, keep_count):
    mask = top_k_mask.top_mask(scores, keep_count)

    def gradient(upstream):
      return (tf.zeros_like(weights), upstream * weights * tf.sign(scores),
              tf.zeros_like(keep_count))

    if binarize:
      return _alpha(weights, mask) * tf.sign(weights) * mask, gradient
    return weights * mask, gradient

  return kernel_fn


_EDGE_POPUP_KERNEL = _supermask_kernel(binarize=False)
_BIPROP_KERNEL = _supermask_kernel(binarize=True)


def keep_count(fraction, size):
  """round(fraction · size), halves up: the weights a layer keeps at `fraction`."""
  return int(math.floor(fraction * size + 0.5))


class _SupermaskMixin(_MaskedKernelMixin):
  """Frozen kernel and bias, a trainable `scores` weight per kernel entry and a non-trainable
  `keep_count`; the forward pass masks the kernel with the top-`keep_count` |scores|.

  `mask` stays (all ones in the supermask protocol) so model_state works unchanged; the
  effective kernel is (kernel·mask) masked by the scores. keep_count is a variable, so one
  traced trainer serves every keep fraction (set_keep_fraction).
  """

  def add_weight(self, name=None, *args, **kwargs):  # pylint: disable=keyword-arg-before-vararg
    if name in ('kernel', 'bias'):
      kwargs['trainable'] = False
    return super().add_weight(name, *args, **kwargs)

  def build(self, input_shape):
    super().build(input_shape)
    fan_in = int(np.prod(self.kernel.shape[:-1]))
    bound = 1.0 / math.sqrt(fan_in)
    self.scores = self.add_weight(
        name='scores', shape=self.kernel.shape, trainable=True, dtype=self.dtype,
        initializer=keras.initializers.RandomUniform(-bound, bound))
    self.keep_count = self.add_weight(
        name='keep_count', shape=(), trainable=False, dtype=tf.float32,
        initializer=keras.initializers.Constant(float(np.prod(self.kernel.shape))))

  @property
  def masked_kernel(self):
    kernel_fn = _BIPROP_KERNEL if self.binarize else _EDGE_POPUP_KERNEL
    return kernel_fn(self.kernel * self.mask, self.scores, self.keep_count)

  def score_mask(self):
    """The learned 0/1 mask (numpy): the top-keep_count |scores| now."""
    return top_k_mask.top_mask(self.scores, self.keep_count).numpy()


class SupermaskDense(_SupermaskMixin, MaskedDense):
  """MaskedDense with frozen weights and a learned top-k mask (see _SupermaskMixin)."""


class SupermaskConv2D(_SupermaskMixin, MaskedConv2D):
  """MaskedConv2D with frozen weights and a learned top-k mask (see _SupermaskMixin)."""


MASKED_LAYER_TYPES = (MaskedDense, MaskedConv2D)
SUPERMASK_LAYER_TYPES = (SupermaskDense, SupermaskConv2D)


def masked_layers(model):
  """The model's masked layers in order, as {layer name: layer}."""
  return {layer.name: layer for layer in model.layers
          if isinstance(layer, MASKED_LAYER_TYPES)}


def set_binarize(model, binarize):
  """Sets every masked layer's `binarize` (before the model is traced by a trainer)."""
  for layer in masked_layers(model).values():
    layer.binarize = bool(binarize)


def to_supermask(model):
  """A copy of a Sequential masked model with Supermask layers of the same names and configs.

  Other layers are cloned as they are; the copy is built, its weights freshly initialised.
  """
  swap = {MaskedDense: SupermaskDense, MaskedConv2D: SupermaskConv2D}

  def clone(layer):
    kind = swap.get(type(layer), type(layer))
    return kind.from_config(layer.get_config())

  copy = keras.models.clone_model(model, clone_function=clone)
  copy.build(model.input_shape)
  return copy


def supermask_layers(model):
  return {name: layer for name, layer in masked_layers(model).items()
          if isinstance(layer, SUPERMASK_LAYER_TYPES)}


def set_keep_fraction(model, fraction):
  """Every supermask layer keeps keep_count(fraction, its size) weights."""
  for layer in supermask_layers(model).values():
    layer.keep_count.assign(float(keep_count(fraction, int(np.prod(layer.kernel.shape)))))


def get_scores(model):
  return {name: layer.scores.numpy() for name, layer in supermask_layers(model).items()}


def set_scores(model, scores):
  for name, layer in supermask_layers(model).items():
    layer.scores.assign(np.asarray(scores[name], np.float32))


def effective_kernels(model):
  """{'{layer}/kernel': the kernel the forward pass uses} of every masked layer, as numpy."""
  return {f'{name}/kernel': tf.convert_to_tensor(layer.masked_kernel).numpy()
          for name, layer in masked_layers(model).items()}


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
