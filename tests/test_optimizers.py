"""Learning-rate schedules, PyTorch-style SGD, coupled weight decay and augmentation."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from cifar_conv import constants
from foundations import augmentation
from foundations import batching
from foundations import model_state
from foundations import optimizers
from foundations import trainer as trainer_lib
from mnist_fc import model as lenet


def _rate(schedule, iteration):
  return float(schedule(iteration))


def test_resnet20_schedule_steps_at_the_papers_milestones():
  hp = constants.NETWORKS['resnet20'].hyperparameters
  schedule = optimizers.Schedule(hp.learning_rate, hp.lr_milestones, hp.lr_gamma)
  assert [_rate(schedule, i) for i in (0, 19_999, 20_000, 24_999, 25_000, 29_999)] == \
      pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_warmup_is_linear_from_zero_then_steps():
  hp = constants.NETWORKS['resnet20'].warmup_hyperparameters
  assert (hp.learning_rate, hp.warmup_iterations) == (0.03, 20_000)
  schedule = optimizers.Schedule(hp.learning_rate, hp.lr_milestones, hp.lr_gamma,
                                 hp.warmup_iterations)
  assert [_rate(schedule, i) for i in (0, 5_000, 10_000, 19_999, 20_000, 25_000)] == \
      pytest.approx([0.0, 0.0075, 0.015, 0.03 * 19_999 / 20_000, 0.003, 0.0003])
  vgg = constants.NETWORKS['vgg19'].warmup_hyperparameters
  assert (vgg.learning_rate, vgg.warmup_iterations, vgg.lr_milestones) == (
      0.1, 10_000, (56_240, 84_360))


def test_cosine_schedule_decays_to_zero_at_the_end_after_the_warmup():
  hp = constants.NETWORKS['conv4'].supermask_hyperparameters
  assert (hp.training_iterations, hp.batch_size, hp.lr_schedule, hp.eval_interval) == (
      35_100, 128, 'cosine', 351)
  schedule = optimizers.Schedule(0.1, kind='cosine', total_iterations=1000)
  assert not schedule.is_constant
  assert [_rate(schedule, i) for i in (0, 250, 500, 750, 1000)] == pytest.approx(
      [0.1, 0.05 * (1 + np.cos(np.pi / 4)), 0.05, 0.05 * (1 - np.cos(np.pi / 4)), 0.0], abs=1e-7)
  warm = optimizers.Schedule(0.1, warmup_iterations=100, kind='cosine', total_iterations=1100)
  assert [_rate(warm, i) for i in (0, 50, 100, 600, 1100)] == pytest.approx(
      [0.0, 0.05, 0.1, 0.05, 0.0], abs=1e-7)


def test_torch_sgd_momentum_follows_pytorch_across_a_learning_rate_step():
  variable = tf.Variable([1.0, -2.0])
  sgd = optimizers.TorchSGD(0.1, momentum=0.9)
  g1, g2 = np.array([0.5, 1.0], np.float32), np.array([-1.0, 0.25], np.float32)
  sgd.apply_gradients([(tf.constant(g1), variable)])
  sgd.learning_rate.assign(0.01)  # a milestone
  sgd.apply_gradients([(tf.constant(g2), variable)])
  v1 = g1
  v2 = 0.9 * v1 + g2
  expected = np.array([1.0, -2.0]) - 0.1 * v1 - 0.01 * v2
  np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)


def test_weight_decay_is_added_to_the_gradient():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 255, (40, 28, 28, 1)).astype(np.uint8)
  labels = rng.integers(0, 10, 40).astype(np.uint8)
  net = lenet.build((28, 28, 1), 10)
  initial = model_state.sample_initial_weights(net, seed=2)
  masks = {k: np.ones(s, np.float32) for k, s in model_state.expected_mask_shapes(net).items()}
  order = batching.BatchOrder(40, 10, seed=1)
  model_state.set_weights(net, initial)
  batch = order.indices(0, 1)[0]
  with tf.GradientTape() as tape:
    logits = net(images[batch], training=True)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels[batch].astype(np.int32), logits=logits))
  gradients = dict(zip([v.name for v in net.trainable_variables],
                       tape.gradient(loss, net.trainable_variables)))
  t = trainer_lib.Trainer(net, optimizers.TorchSGD(0.5), (images, labels), (images, labels),
                          (images, labels), jit_compile=False, weight_decay=0.1)
  result = t.train(initial, masks, 1, order, eval_interval=1)
  kernel = net.get_layer('hidden1').kernel
  expected = initial['hidden1/kernel'] - 0.5 * (gradients[kernel.name].numpy() +
                                                0.1 * initial['hidden1/kernel'])
  np.testing.assert_allclose(result.final_weights['hidden1/kernel'], expected, atol=1e-6)


def _images(count=6, size=8, channels=2):
  return np.random.default_rng(1).integers(0, 256, (count, size, size, channels)).astype(np.uint8)


def test_augmentation_is_a_function_of_seed_and_iteration():
  images = tf.constant(_images())
  first = augmentation.augment(images, 7, 100).numpy()
  np.testing.assert_array_equal(first, augmentation.augment(images, 7, 100).numpy())
  assert not np.array_equal(first, augmentation.augment(images, 7, 101).numpy())
  assert not np.array_equal(first, augmentation.augment(images, 8, 100).numpy())


def test_augmentation_is_a_flip_and_a_crop_of_the_zero_padded_image():
  images = _images(count=16)
  augmented = augmentation.augment(tf.constant(images), 3, 5).numpy()
  pad = augmentation.PAD_PIXELS
  kinds = set()
  for image, result in zip(images, augmented):
    matches = []
    for flipped in (False, True):
      padded = np.pad(image[:, ::-1] if flipped else image, ((pad, pad), (pad, pad), (0, 0)))
      for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
          if np.array_equal(padded[dy:dy + 8, dx:dx + 8], result):
            matches.append((flipped, dy, dx))
    assert matches, 'not a flipped/unflipped crop of the padded image'
    kinds.update(m[0] for m in matches)
  assert kinds == {False, True}  # both flipped and unflipped images occur


def test_trainer_runs_with_mixed_precision():
  keras.mixed_precision.set_global_policy('mixed_float16')
  try:
    net = lenet.build((28, 28, 1), 10)
  finally:
    keras.mixed_precision.set_global_policy('float32')
  images = _images(count=30, size=28, channels=1)
  labels = np.arange(30) % 10
  optimizer = keras.mixed_precision.LossScaleOptimizer(optimizers.create('sgd', 0.1, 0.9))
  t = trainer_lib.Trainer(net, optimizer, (images, labels), (images, labels), (images, labels),
                          jit_compile=False)
  initial = model_state.sample_initial_weights(net, seed=0)
  masks = {k: np.ones(s, np.float32) for k, s in model_state.expected_mask_shapes(net).items()}
  first = t.train(initial, masks, 4, batching.BatchOrder(30, 10, 0), eval_interval=2)
  second = t.train(initial, masks, 4, batching.BatchOrder(30, 10, 0), eval_interval=2)
  assert np.isfinite(first.history['train_loss'][1:]).all()  # row 0: before training
  assert net.get_layer('hidden1').compute_dtype == 'float16'
  for key in first.final_weights:  # the loss scale is reset with the optimizer
    np.testing.assert_array_equal(first.final_weights[key], second.final_weights[key])
