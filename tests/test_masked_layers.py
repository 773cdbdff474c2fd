import numpy as np
import tensorflow as tf

from foundations import masked_layers


def _dense(mask=None, presets=None):
  layer = masked_layers.MaskedDense(3, mask=mask, presets=presets)
  layer.build((None, 4))
  return layer


def test_forward_uses_kernel_times_mask():
  kernel = np.arange(12, dtype=np.float32).reshape(4, 3)
  mask = (kernel % 2 == 0).astype(np.float32)
  layer = _dense(mask, {'kernel': kernel, 'bias': np.ones(3)})
  x = np.ones((2, 4), np.float32)
  np.testing.assert_allclose(layer(x).numpy(), x @ (kernel * mask) + 1)


def test_pruned_weights_get_zero_gradient():
  mask = np.zeros((4, 3), np.float32)
  mask[0] = 1
  layer = _dense(mask)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(tf.random.normal((5, 4))) ** 2)
  gradient = tape.gradient(loss, layer.kernel).numpy()
  assert np.all(gradient[1:] == 0) and np.any(gradient[0] != 0)
  assert all(w is not layer.mask for w in layer.trainable_weights)


def test_conv_forward_and_gradient():
  layer = masked_layers.MaskedConv2D(2, 3, padding='same')
  layer.build((None, 5, 5, 1))
  mask = np.zeros((3, 3, 1, 2), np.float32)
  mask[1, 1] = 1
  layer.mask.assign(mask)
  x = tf.random.normal((1, 5, 5, 1))
  with tf.GradientTape() as tape:
    y = layer(x)
    loss = tf.reduce_sum(y ** 2)
  center = layer.kernel.numpy()[1, 1, 0]
  np.testing.assert_allclose(y.numpy(), x.numpy() * center + layer.bias.numpy(), rtol=1e-5)
  gradient = tape.gradient(loss, layer.kernel).numpy()
  assert np.count_nonzero(gradient) == np.count_nonzero(gradient * mask) > 0
