"""The standard CIFAR augmentation as a pure function of (seed, iteration).

Random horizontal flip, zero padding by 4 pixels and a random crop back to the input size, drawn
per image with stateless random ops seeded by (seed, iteration). A batch is therefore augmented
the same way whenever iteration i is trained (resumed or not), and differently at every i.
Padding is applied to the raw pixels (value 0), as torchvision pads the image before it is
normalised.
"""

import tensorflow as tf

PAD_PIXELS = 4


def augment(images, seed, iteration):
  """Flips and pad-crops a batch [B, H, W, C]; `seed` and `iteration` are integer scalars."""
  batch = tf.shape(images)[0]
  height, width = images.shape[1], images.shape[2]
  base = tf.stack([tf.cast(seed, tf.int64), tf.cast(iteration, tf.int64)])
  flip = tf.random.stateless_uniform([batch], base, 0, 2, dtype=tf.int32)
  images = tf.where(tf.reshape(flip == 1, [-1, 1, 1, 1]), tf.reverse(images, axis=[2]), images)
  padded = tf.pad(images, [[0, 0], [PAD_PIXELS, PAD_PIXELS], [PAD_PIXELS, PAD_PIXELS], [0, 0]])
  offsets = tf.random.stateless_uniform([batch, 2], base + [0, 1 << 40], 0, 2 * PAD_PIXELS + 1,
                                        dtype=tf.int32)
  rows = offsets[:, :1] + tf.range(height)[tf.newaxis]  # [B, H]
  columns = offsets[:, 1:] + tf.range(width)[tf.newaxis]  # [B, W]
  images = tf.gather(padded, rows, axis=1, batch_dims=1)
  return tf.gather(images, columns, axis=2, batch_dims=1)
