"""The dataset of a Trainer on the device: the training split and the evaluation splits.

Every split is a set of variables, so the compiled training and evaluation functions read the
data without it passing through Python, and another trial's data of the same shapes replaces it
in place (assign) without retracing. Evaluation splits are padded to whole evaluation batches,
the padding weighted 0.
"""

import numpy as np
import tensorflow as tf


def named_splits(validation, test, extra_splits=None):
  """{name: (images, labels)}: 'validation', 'test', then the extra splits, in that order."""
  return {'validation': validation, 'test': test, **(extra_splits or {})}


class EvalSplit:
  """A split on the device, padded to whole evaluation batches, with 0-weights on the padding."""

  def __init__(self, images, labels, batch_size):
    images, labels, weights = self.arrays(images, labels, batch_size)
    self.images = tf.Variable(images, trainable=False)
    self.labels = tf.Variable(labels, trainable=False)
    self.weights = tf.Variable(weights, trainable=False)

  @staticmethod
  def arrays(images, labels, batch_size):
    """(images, labels, weights) as [chunks, batch, ...] arrays, padding weighted 0."""
    count = len(labels)
    batch_size = min(batch_size, count)
    chunks = -(-count // batch_size)
    pad = chunks * batch_size - count
    images = np.concatenate([images, np.zeros((pad,) + images.shape[1:], images.dtype)])
    labels = np.concatenate([labels, np.zeros(pad, labels.dtype)]).astype(np.int32)
    weights = np.concatenate([np.ones(count, np.float32), np.zeros(pad, np.float32)])
    shape = (chunks, batch_size)
    return (images.reshape(shape + images.shape[1:]), labels.reshape(shape),
            weights.reshape(shape))


class DeviceData:
  """The training split (train_images, train_labels) and the evaluation splits (splits: {name:
  EvalSplit}: 'validation', 'test', then the extras) of (images, labels) numpy arrays."""

  def __init__(self, train, validation, test, extra_splits, eval_batch_size):
    self.train_images = tf.Variable(train[0], trainable=False)
    self.train_labels = tf.Variable(train[1].astype(np.int32), trainable=False)
    self.splits = {name: EvalSplit(*split, eval_batch_size)
                   for name, split in named_splits(validation, test, extra_splits).items()}
    self._eval_batch_size = eval_batch_size

  def assign(self, train, validation, test, extra_splits=None):
    """Replaces the data of every split by arrays of the same shapes.

    Raises:
      ValueError: a split's shape differs from the one the data was built with.
    """
    new = {name: EvalSplit.arrays(*split, self._eval_batch_size)
           for name, split in named_splits(validation, test, extra_splits).items()}
    targets = [(self.train_images, train[0]), (self.train_labels, train[1].astype(np.int32))]
    if sorted(new) != sorted(self.splits):
      raise ValueError(f'splits {sorted(new)}, expected {sorted(self.splits)}')
    for name, arrays in new.items():
      split = self.splits[name]
      targets += list(zip((split.images, split.labels, split.weights), arrays))
    for variable, value in targets:
      if tuple(variable.shape) != value.shape:
        raise ValueError(f'data of shape {value.shape}, expected {tuple(variable.shape)}')
    for variable, value in targets:
      variable.assign(value)
