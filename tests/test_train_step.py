"""The pieces both training steps share (foundations.train_step), eagerly and without training."""

import contextlib

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


def _sparse_training_weights(monkeypatch, skip_forward_mask):
  """A tiny masked network's weights after 10 Adam steps with weight decay at 25% density."""
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  from foundations import batching, masked_layers, model_state, trainer  # pylint: disable=g-import-not-at-top
  traced = []
  if skip_forward_mask:
    fast = masked_layers._masked_gradient  # pylint: disable=protected-access
    monkeypatch.setattr(masked_layers, '_masked_gradient',
                        lambda kernel, mask: traced.append(1) or fast(kernel, mask))
  else:
    monkeypatch.setattr(masked_layers, 'pruned_weights_are_zero', contextlib.nullcontext)
  model = masked_layers.add_dense_head(keras.Sequential([keras.Input((6,))]), (5,), 3)
  rng = np.random.default_rng(0)
  data = [(rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, n).astype(np.uint8))
          for n in (40, 8, 8)]
  masks = {name: (rng.random(shape) < 0.25).astype(np.float32)
           for name, shape in model_state.expected_mask_shapes(model).items()}
  run = trainer.Trainer(model, keras.optimizers.Adam(0.01), *data, weight_decay=1e-3)
  run.train(model_state.sample_initial_weights(model, 0), masks, 10, batching.BatchOrder(40, 8, 0),
            eval_interval=10)
  weights = model_state.get_weights(model, masked=False)
  for name, mask in masks.items():
    assert not np.any(weights[f'{name}/kernel'][mask == 0])
  return weights, bool(traced)


def test_training_step_skips_the_forward_mask_bit_for_bit(monkeypatch):
  """The step's forward uses the kernel as it is (pruned entries are zero): the same bits as
  kernel * mask, pruned weights still exactly zero."""
  fast, traced = _sparse_training_weights(monkeypatch, skip_forward_mask=True)
  monkeypatch.undo()
  reference, _ = _sparse_training_weights(monkeypatch, skip_forward_mask=False)
  assert traced
  for key, value in reference.items():
    np.testing.assert_array_equal(fast[key].view(np.uint32), value.view(np.uint32), err_msg=key)
