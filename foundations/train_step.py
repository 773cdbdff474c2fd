"""What a training step does, on one device or under a tf.distribute strategy.

The loss, coupled weight decay, the learning-rate schedule, augmentation and the loop of steps in
one compiled call are written once here and used by both the single-device step (also here) and
the distributed one (foundations.distributed_step), so the two cannot drift apart. Each piece
builds exactly the operations the trainer always built, in the same order, so results stay bit
for bit what they were.
"""

import tensorflow as tf
import tf_keras as keras

from foundations import augmentation
from foundations import masked_layers


def loss_and_correct(model, images, labels, training):
  """(per-example cross-entropy, per-example 0/1 correct), both float32."""
  logits = tf.cast(model(images, training=training), tf.float32)  # float16 with mixed precision
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
  correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels),
                    tf.float32)
  return losses, correct


def training_loss_and_correct(model, images, labels):
  """loss_and_correct in training mode, as a training step computes it: the trainer keeps pruned
  weights at zero, so the masked layers skip their forward kernel * mask
  (masked_layers.pruned_weights_are_zero)."""
  with masked_layers.pruned_weights_are_zero():
    return loss_and_correct(model, images, labels, training=True)


class StepSettings:
  """A trainer's per-step choices: learning-rate schedule, weight decay and augmentation.

  Args:
    schedule: optional foundations.optimizers.Schedule; None or a constant one keeps the
      optimizer's own rate.
    weight_decay: L2 coefficient added to every gradient (g + weight_decay * w), PyTorch's
      coupled weight decay; pruned weights are zero, so they stay zero.
    augment_seed: None (no augmentation) or the initial seed of foundations.augmentation;
      `augment_seed` (a variable) holds the current run's seed.
  """

  def __init__(self, schedule, weight_decay, augment_seed):
    self.schedule = None if schedule is None or schedule.is_constant else schedule
    self.weight_decay = float(weight_decay)
    self.augment = augment_seed is not None
    self.augment_seed = tf.Variable(augment_seed or 0, dtype=tf.int64, trainable=False)

  def set_learning_rate(self, optimizer, iteration):
    """The schedule's rate for the step at global `iteration` (nothing without a schedule)."""
    if self.schedule is not None:
      optimizer.learning_rate.assign(self.schedule(iteration))

  def decayed(self, gradients, variables):
    """`gradients` with weight decay added (as they are without it)."""
    if not self.weight_decay:
      return gradients
    return [g + self.weight_decay * v for g, v in zip(gradients, variables)]

  def augmented(self, images, iteration):
    """The training batch of global `iteration`, augmented if augmentation is on."""
    if not self.augment:
      return images
    return augmentation.augment(images, self.augment_seed, iteration)


def run_steps(step, batch_indices, first_iteration):
  """Runs step(indices, iteration) -> (loss, accuracy) once per row of batch_indices, the first
  being global iteration `first_iteration`; returns (mean loss, mean accuracy) over the steps."""
  loss_sum = tf.constant(0.0)
  correct_sum = tf.constant(0.0)
  for row in tf.range(tf.shape(batch_indices)[0]):
    loss, accuracy = step(batch_indices[row], first_iteration + tf.cast(row, tf.int64))
    loss_sum += loss
    correct_sum += accuracy
  steps = tf.cast(tf.shape(batch_indices)[0], tf.float32)
  return loss_sum / steps, correct_sum / steps


def single_device_steps(model, optimizer, train_images, train_labels, settings, jit_compile,
                        on_trace):
  """The compiled call (batch_indices [steps, batch], first_iteration) -> (mean loss, mean
  accuracy) that trains `model` one step per row on one device; on_trace() counts its traces.

  With mixed precision (a LossScaleOptimizer) the loss is scaled and the gradients unscaled.
  """
  loss_scaling = isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)

  def step(indices, iteration):
    variables = model.trainable_variables
    images = tf.gather(train_images, indices)
    labels = tf.gather(train_labels, indices)
    images = settings.augmented(images, iteration)
    with tf.GradientTape() as tape:
      losses, correct = training_loss_and_correct(model, images, labels)
      loss = tf.reduce_mean(losses)
      scaled_loss = optimizer.get_scaled_loss(loss) if loss_scaling else loss
    gradients = tape.gradient(scaled_loss, variables)
    if loss_scaling:
      gradients = optimizer.get_unscaled_gradients(gradients)
    gradients = settings.decayed(gradients, variables)
    settings.set_learning_rate(optimizer, iteration)
    optimizer.apply_gradients(zip(gradients, variables))
    return loss, tf.reduce_mean(correct)

  def steps(batch_indices, first_iteration):
    on_trace()
    return run_steps(step, batch_indices, first_iteration)

  return tf.function(steps, jit_compile=jit_compile)


class DenseGradients:
  """callable(batch indices, iteration) -> [∂L/∂W of each masked layer's kernel as if dense],
  for RigL's growth (foundations.mask_updates): the training-mode loss of that iteration's batch
  (augmented as its step is), computed with every mask set to ones. Inactive kernel entries are
  0, so the forward pass is the sparse network's and the gradient is the dense one. BatchNorm
  statistics, dropout generators and the masks are put back afterwards: the step is unchanged.
  """

  def __init__(self, model, train_images, train_labels, settings, jit_compile, random_states):
    self._model = model
    self._layers = list(masked_layers.masked_layers(model).values())
    self._kept = list(model.non_trainable_variables) + list(random_states)
    kernels = [layer.kernel for layer in self._layers]

    def gradients(indices, iteration):
      images = settings.augmented(tf.gather(train_images, indices), iteration)
      with tf.GradientTape() as tape:
        losses, _ = loss_and_correct(model, images, tf.gather(train_labels, indices), True)
        loss = tf.reduce_mean(losses)
      return tape.gradient(loss, kernels)

    self._gradients = tf.function(gradients, jit_compile=jit_compile)

  def __call__(self, batch_indices, iteration):
    kept = [variable.numpy() for variable in self._kept]
    for layer in self._layers:
      layer.mask.assign(tf.ones_like(layer.mask))
    try:
      return [g.numpy() for g in self._gradients(tf.constant(batch_indices),
                                                 tf.constant(iteration, tf.int64))]
    finally:
      for variable, value in zip(self._kept, kept):
        variable.assign(value)
