"""The baseline the trainer is measured against: the same network with plain tf_keras layers,
trained by `model.fit` on a tf.data pipeline, as a researcher would write it without this
library (same optimizer, loss, batch size, weight decay and augmentation; no masks)."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from foundations import augmentation
from foundations import masked_layers

_PLAIN_LAYERS = ((masked_layers.MaskedConv2D, keras.layers.Conv2D),
                 (masked_layers.MaskedDense, keras.layers.Dense))


def plain_copy(masked_model):
  """The masked model's architecture with keras Dense/Conv2D in place of the masked layers
  (each built from the masked layer's own config); fresh weights."""
  def clone(layer):
    for masked_type, plain_type in _PLAIN_LAYERS:
      if isinstance(layer, masked_type):
        return plain_type.from_config(layer.get_config())
    return type(layer).from_config(layer.get_config())
  return keras.models.clone_model(masked_model, clone_function=clone)


def _coupled_weight_decay(model, weight_decay):
  """Adds 0.5 * weight_decay * sum(w²) over every trainable variable to the loss: the gradient
  g + weight_decay * w that the trainer adds (foundations.train_step.StepSettings.decayed)."""
  def penalty():
    return 0.5 * weight_decay * tf.add_n([tf.reduce_sum(tf.square(v))
                                          for v in model.trainable_variables])
  model.add_loss(penalty)


def fit_run(model, optimizer, train, batch_size, weight_decay=0.0, augment=False,
            steps_per_execution=1, jit_compile=False):
  """run(steps): `steps` training batches of `model.fit` on `train` (images, labels), shuffled
  and repeated by tf.data, augmented per batch like the trainer when `augment`.

  `steps_per_execution` and `jit_compile` are compile() options a tuned fit would set (the
  trainer runs many steps per compiled call, with XLA where that is faster).
  """
  if weight_decay:
    _coupled_weight_decay(model, weight_decay)
  model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                steps_per_execution=steps_per_execution, jit_compile=jit_compile)
  images, labels = train
  dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
  dataset = dataset.shuffle(len(labels), seed=0).repeat().batch(batch_size, drop_remainder=True)
  if augment:
    dataset = dataset.enumerate().map(
        lambda i, batch: (augmentation.augment(batch[0], 0, i), batch[1]),
        num_parallel_calls=tf.data.AUTOTUNE)
  dataset = dataset.prefetch(tf.data.AUTOTUNE)

  def run(steps):
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
  return run
