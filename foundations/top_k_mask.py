"""The 0/1 mask of a tensor's k largest magnitudes, exactly and fast under XLA: the supermask
layers' forward pass (foundations.masked_layers) recomputes it every step."""

import tensorflow as tf


def top_mask(scores, keep_count):
  """0/1 mask of the `keep_count` largest |scores|, exactly; ties drop the lower flat index first
  (as foundations.pruning).

  No sort (XLA's CPU sort of a large layer costs more than the layer) and no static k (one trace
  serves every keep_count): a binary search over the bit patterns of |scores| (ordered like the
  values) finds the keep_count-th largest value t in 31 counting passes; all values above t are
  kept, and of those equal to t the ones with the highest indices.
  """
  shape = tf.shape(scores)
  bits = tf.cast(tf.bitcast(tf.abs(tf.reshape(tf.cast(scores, tf.float32), [-1])), tf.int32),
                 tf.int64)
  keep = tf.minimum(tf.cast(keep_count, tf.int64), tf.size(bits, out_type=tf.int64))

  def count_at_least(threshold):
    return tf.reduce_sum(tf.cast(bits >= threshold, tf.int64))

  def search(low, high):  # count(>= low) >= keep > count(>= high)
    middle = (low + high) // 2
    enough = count_at_least(middle) >= keep
    return tf.where(enough, middle, low), tf.where(enough, high, middle)

  low, _ = tf.while_loop(lambda low, high: high - low > 1, search,
                         (tf.constant(0, tf.int64), tf.constant(2 ** 31, tf.int64)),
                         maximum_iterations=32)
  ties = tf.cast(bits == low, tf.int64)
  ties_from_here = tf.cumsum(ties, reverse=True)  # ties at this index or later
  tied_kept = keep - tf.reduce_sum(tf.cast(bits > low, tf.int64))
  kept = (bits > low) | ((ties > 0) & (ties_from_here <= tied_kept))
  return tf.reshape(tf.cast(kept, scores.dtype), shape)
