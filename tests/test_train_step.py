"""The pieces both training steps share (foundations.train_step), eagerly and without training."""

import numpy as np
import tensorflow as tf

from foundations import augmentation
from foundations import optimizers
from foundations import train_step


def test_settings_without_decay_schedule_or_augmentation_change_nothing():
  settings = train_step.StepSettings(optimizers.Schedule(0.5), 0.0, None)
  assert settings.schedule is None  # a constant schedule keeps the optimizer's own rate
  gradients, images = [tf.ones(3)], tf.ones((2, 8, 8, 1))
  assert settings.decayed(gradients, [tf.ones(3)]) is gradients
  assert settings.augmented(images, 5) is images
  optimizer = optimizers.create('sgd', 0.25)
  settings.set_learning_rate(optimizer, 7)
  assert float(optimizer.learning_rate) == 0.25


def test_settings_decay_schedule_and_augment():
  settings = train_step.StepSettings(optimizers.Schedule(1.0, (10,), 0.5), 1e-3, 3)
  gradient, variable = tf.constant([0.5, -1.0]), tf.constant([2.0, 4.0])
  np.testing.assert_array_equal(settings.decayed([gradient], [variable])[0],
                                gradient + 1e-3 * variable)
  optimizer = optimizers.create('sgd', 1.0)
  settings.set_learning_rate(optimizer, tf.constant(10, tf.int64))
  assert float(optimizer.learning_rate) == 0.5
  images = tf.reshape(tf.range(2 * 8 * 8, dtype=tf.float32), (2, 8, 8, 1))
  np.testing.assert_array_equal(settings.augmented(images, tf.constant(4, tf.int64)),
                                augmentation.augment(images, 3, 4))


def test_run_steps_numbers_the_steps_and_averages_them():
  seen = []

  def step(indices, iteration):
    seen.append((indices.numpy().tolist(), int(iteration)))
    return tf.cast(iteration, tf.float32), tf.constant(1.0)

  loss, accuracy = train_step.run_steps(step, tf.constant([[0, 1], [2, 3]]),
                                        tf.constant(5, tf.int64))
  assert seen == [([0, 1], 5), ([2, 3], 6)]
  assert (float(loss), float(accuracy)) == (5.5, 1.0)

