"""The training step under a tf.distribute strategy (foundations.distribution), data-parallel.

Every replica trains on its slice of each global batch and the gradients are all-reduced, so a
step equals the single-device step (foundations.train_step) up to summation order; schedule,
weight decay, augmentation and the loop of steps are train_step's. What is here is what only a
strategy needs: strategy.run per step with the replicas in lockstep, each replica's slice, and the
all-reduce. XLA cannot compile strategy.run, so it compiles each replica's gradient computation.
"""

import tensorflow as tf
import tf_keras as keras

from foundations import distribution
from foundations import errors
from foundations import train_step


def check_supported(optimizer, random_states):
  """Raises UserInputError for what trains on one device only: mixed precision and dropout."""
  if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer) or random_states:
    raise errors.UserInputError('--distribute: mixed precision and dropout train on one '
                                'device only; use --distribute=none')


def distributed_steps(strategy, model, optimizer, train_images, train_labels, settings,
                      jit_compile, on_trace):
  """train_step.single_device_steps under `strategy` (whose scope made the model, the optimizer
  and the data variables): the same call, (batch_indices, first_iteration) -> (mean loss, mean
  accuracy), with every step run by strategy.run; on_trace() counts its traces."""

  def replica_gradients_fn(images, labels, iteration, start, global_size):
    """(gradients, loss sum, correct count) over a replica's examples, each / global_size;
    with augmentation, `images` is the whole batch, of which rows from `start` are its own."""
    on_trace()
    if settings.augment:
      images = settings.augmented(images, iteration)
      images = images[start:start + tf.shape(labels)[0]]
    with tf.GradientTape() as tape:
      losses, correct = train_step.training_loss_and_correct(model, images, labels)
      loss = tf.reduce_sum(losses) / global_size
    gradients = tape.gradient(loss, model.trainable_variables)
    return gradients, loss, tf.reduce_sum(correct) / global_size

  replica_gradients = tf.function(replica_gradients_fn, jit_compile=jit_compile)

  def replica_step(batch_indices, iteration):
    """One replica's share of a step: its slice of the global batch, the all-reduced gradient
    (the global batch's mean gradient) applied; returns its (loss, accuracy) share."""
    context = tf.distribute.get_replica_context()
    variables = model.trainable_variables
    own = distribution.replica_slice(batch_indices, context)
    # Augmentation draws for the whole batch (as on one device, and inside XLA like there: its
    # random numbers differ from TensorFlow's); the replica then keeps its slice.
    images = tf.gather(train_images, batch_indices if settings.augment else own)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.shape(own)[0]
    gradients, loss, correct = replica_gradients(
        images, tf.gather(train_labels, own), iteration, start,
        tf.cast(tf.shape(batch_indices)[0], tf.float32))
    gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    gradients = settings.decayed(gradients, variables)
    optimizer.apply_gradients(zip(gradients, variables), skip_gradients_aggregation=True)
    return loss, correct

  def step(batch_indices, iteration):
    settings.set_learning_rate(optimizer, iteration)
    loss, correct = strategy.run(replica_step, args=(batch_indices, iteration))
    return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))

  def steps(batch_indices, first_iteration):
    on_trace()
    return train_step.run_steps(step, batch_indices, first_iteration)

  return tf.function(steps)
