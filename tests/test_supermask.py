"""Learned masks on frozen weights (edge-popup, biprop) and binary-weight tickets: exact top-k
masks, straight-through gradients, weight init scales, and the runners' files."""

import math
import os
import shutil
import types

import numpy as np
import pytest
import tensorflow as tf

from foundations import masked_layers
from foundations import pruning
from foundations import save_restore
from foundations import top_k_mask
from lottery_ticket import config as config_lib
from lottery_ticket.protocols import supermask
from mnist_fc import model as lenet
from tests import conftest


def _supermask_dense(kernel, scores, keep, binarize=False):
  layer = masked_layers.SupermaskDense(kernel.shape[1], use_bias=False,
                                       presets={'kernel': kernel})
  layer.build((None, kernel.shape[0]))
  layer.scores.assign(scores)
  layer.keep_count.assign(keep)
  layer.binarize = binarize
  return layer


def test_top_mask_keeps_exactly_k_and_drops_lower_indices_first_among_ties():
  scores = np.array([[0.5, -0.5, 0.1], [-0.5, 0.2, 0.5], [0.0, 0.5, -0.1]], np.float32)
  compiled = tf.function(top_k_mask.top_mask, jit_compile=True)
  for keep in range(10):
    for top_mask in (top_k_mask.top_mask, compiled):
      mask = top_mask(tf.constant(scores), tf.constant(float(keep))).numpy()
      assert mask.sum() == keep
      # the reference: pruning.py's order (|score|, then position), the first n - keep removed
      expected = pruning.prune_layer(np.ones_like(scores), np.abs(scores), (9 - keep) / 9)
      np.testing.assert_array_equal(mask, expected)
  random = np.random.default_rng(0).integers(-3, 4, (50, 40)).astype(np.float32)  # many ties
  for fraction in (0.5, 0.1, 0.013):
    keep = masked_layers.keep_count(fraction, random.size)
    mask = compiled(tf.constant(random), tf.constant(float(keep))).numpy()
    assert mask.sum() == keep
    expected = pruning.prune_layer(np.ones_like(random), np.abs(random),
                                   (random.size - keep) / random.size)
    np.testing.assert_array_equal(mask, expected)


def test_supermask_layers_freeze_weights_and_train_only_the_scores():
  model = masked_layers.to_supermask(lenet.build((28, 28, 1), 10))
  assert [layer.name for layer in masked_layers.supermask_layers(model).values()] == [
      'hidden1', 'hidden2', 'output']
  assert [v.name.split(':')[0] for v in model.trainable_variables] == [
      'hidden1/scores', 'hidden2/scores', 'output/scores']
  masked_layers.set_keep_fraction(model, 0.1)
  assert model.get_layer('hidden1').keep_count.numpy() == 23_520
  assert model.get_layer('output').score_mask().sum() == 100


@pytest.mark.parametrize('binarize', [False, True])
def test_score_gradient_is_upstream_times_weights_times_score_signs(binarize):
  rng = np.random.default_rng(1)
  kernel = rng.normal(size=(4, 3)).astype(np.float32)
  scores = rng.normal(size=(4, 3)).astype(np.float32)
  layer = _supermask_dense(kernel, scores, 5, binarize)
  x = rng.normal(size=(2, 4)).astype(np.float32)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x) ** 2)
  gradient = tape.gradient(loss, layer.scores).numpy()
  mask = layer.score_mask()
  assert mask.sum() == 5
  if binarize:
    alpha = np.abs(kernel)[mask == 1].mean()
    effective = alpha * np.sign(kernel) * mask
  else:
    effective = kernel * mask
  np.testing.assert_allclose(tf.convert_to_tensor(layer.masked_kernel).numpy(), effective,
                             rtol=1e-6)
  upstream = x.T @ (2 * (x @ effective))  # ∂L/∂W_eff
  np.testing.assert_allclose(gradient, upstream * kernel * np.sign(scores), rtol=1e-5, atol=1e-6)
  assert not layer.kernel.trainable and layer.scores.trainable


def test_biprop_kernel_takes_three_values_alpha_the_mean_kept_magnitude():
  rng = np.random.default_rng(2)
  kernel = rng.normal(size=(30, 20)).astype(np.float32)
  layer = _supermask_dense(kernel, rng.normal(size=(30, 20)).astype(np.float32), 123, True)
  effective = tf.convert_to_tensor(layer.masked_kernel).numpy()
  mask = layer.score_mask()
  alpha = np.abs(kernel)[mask == 1].mean()
  assert set(np.unique(effective)) == {np.float32(-alpha), 0.0, np.float32(alpha)} or \
      np.allclose(sorted(set(np.unique(effective))), [-alpha, 0.0, alpha], rtol=1e-6)
  assert len(np.unique(effective)) == 3 and np.count_nonzero(effective) == 123


def test_binarized_masked_layer_is_ternary_with_a_straight_through_gradient():
  rng = np.random.default_rng(3)
  kernel = rng.normal(size=(4, 3)).astype(np.float32)
  mask = (rng.random((4, 3)) < 0.5).astype(np.float32)
  layer = masked_layers.MaskedDense(3, mask=mask, presets={'kernel': kernel}, use_bias=False)
  layer.build((None, 4))
  layer.binarize = True
  alpha = np.abs(kernel)[mask == 1].mean()
  effective = tf.convert_to_tensor(layer.masked_kernel).numpy()
  np.testing.assert_allclose(effective, alpha * np.sign(kernel) * mask, rtol=1e-6)
  x = rng.normal(size=(2, 4)).astype(np.float32)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x) ** 2)
  upstream = x.T @ (2 * (x @ effective))
  np.testing.assert_allclose(tape.gradient(loss, layer.kernel).numpy(), upstream * mask,
                             rtol=1e-5, atol=1e-6)


def _experiment(weight_init, build=lenet.build, shape=(28, 28, 1)):
  config = config_lib.ExperimentConfig(
      protocol='supermask', network='lenet300_100', dataset='mnist', output_dir='/unused',
      training_iterations=10, learning_rate=0.1, weight_init=weight_init)
  return types.SimpleNamespace(config=config,
                               model=masked_layers.to_supermask(build(shape, 10)))


def test_weight_init_scales_with_the_kept_fraction():
  experiment = _experiment('signed_kaiming_constant')
  weights = supermask.frozen_weights(experiment, 0.3)
  for name, fan_in in (('hidden1', 784), ('hidden2', 300), ('output', 100)):
    magnitudes = np.unique(np.abs(weights[f'{name}/kernel']))
    np.testing.assert_array_equal(magnitudes, [np.float32(math.sqrt(2 / (fan_in * 0.3)))])
    assert not weights[f'{name}/bias'].any()
  normal = supermask.frozen_weights(_experiment('kaiming_normal'), 0.5)['hidden1/kernel']
  assert normal.std() == pytest.approx(math.sqrt(2 / (784 * 0.5)), rel=0.01)
  glorot = supermask.frozen_weights(_experiment('glorot'), 0.5)['hidden1/kernel']
  assert glorot.std() == pytest.approx(math.sqrt(2 / ((784 + 300) * 0.5)), rel=0.02)
  scores = supermask.initial_scores(experiment)['hidden2']
  assert np.abs(scores).max() <= 1 / math.sqrt(300) and scores.std() > 0.5 / math.sqrt(900)
  from cifar_conv import model as conv  # pylint: disable=g-import-not-at-top
  conv2 = _experiment('signed_kaiming_constant', lambda *a: conv.build((64,), *a), (32, 32, 3))
  kernel = supermask.frozen_weights(conv2, 1.0)['conv2/kernel']  # fan_in 3·3·64
  np.testing.assert_array_equal(np.unique(np.abs(kernel)), [np.float32(math.sqrt(2 / 576))])


@pytest.fixture(scope='module')
def edge_popup_run(idx_dataset, tmp_path_factory):
  out = str(tmp_path_factory.mktemp('supermask'))
  process = conftest.run_module('mnist_fc.runners.supermask', '--percent_remaining=50,10',
                                *conftest.small_run_flags(idx_dataset, out, iterations=40))
  assert process.returncode == 0, process.stderr[-3000:]
  return out


def test_supermask_runner_learns_masks_on_frozen_weights(edge_popup_run, idx_dataset):
  run_dir = f'{edge_popup_run}/trial1/edge_popup/remaining10'
  summary = conftest.read_summary(run_dir)
  assert (summary['experiment'], summary['kind'], summary['weight_init'], summary['binarize'],
          summary['lr_schedule'], summary['percent_remaining']) == (
              'supermask', 'edge_popup', 'signed_kaiming_constant', False, 'cosine', 10.0)
  masks = save_restore.load_arrays(f'{run_dir}/masks.npz')
  initial = save_restore.load_arrays(f'{run_dir}/initial.npz')
  final = save_restore.load_arrays(f'{run_dir}/final.npz')
  scores = save_restore.load_arrays(f'{run_dir}/scores.npz')
  for name, mask in masks.items():
    assert mask.sum() == masked_layers.keep_count(0.1, mask.size)
    # the weights never moved: the effective kernel is the frozen kernel under the mask
    np.testing.assert_array_equal(final[f'{name}/kernel'], initial[f'{name}/kernel'] * mask)
    assert not final[f'{name}/bias'].any() and not initial[f'{name}/bias'].any()
    expected = top_k_mask.top_mask(tf.constant(scores[name]),
                                      tf.constant(float(mask.sum()))).numpy()
    np.testing.assert_array_equal(mask, expected)
  assert os.path.isfile(f'{edge_popup_run}/edge_popup.json')
  assert not os.path.exists(f'{edge_popup_run}/experiment.json')
  # The learned mask is a ticket the train runner retrains, from the frozen weights too.
  out = f'{edge_popup_run}/retrain'
  process = conftest.run_module('mnist_fc.runners.train', f'--masks={run_dir}',
                                f'--presets={run_dir}',
                                *conftest.small_run_flags(idx_dataset, out, iterations=20))
  assert process.returncode == 0, process.stderr[-3000:]
  retrained = conftest.read_summary(f'{out}/trial1/train')
  assert retrained['percent_remaining'] == pytest.approx(10.0)
  # A re-run skips the finished runs.
  process = conftest.run_module('mnist_fc.runners.supermask', '--percent_remaining=50,10',
                                *conftest.small_run_flags(idx_dataset, edge_popup_run,
                                                          iterations=40))
  assert process.returncode == 0 and process.stdout.count('already complete') == 2


@pytest.mark.slow  # three runner processes; the ternary kernel is unit-tested too
def test_biprop_runner_kernels_are_ternary(edge_popup_run, idx_dataset):
  # Beside the edge-popup runs biprop keeps its own settings: Kaiming normal by default, and
  # another --weight_init than its directory's is refused.
  process = conftest.run_module('mnist_fc.runners.supermask', '--percent_remaining=30',
                                '--binarize', '--weight_init=glorot',
                                *conftest.small_run_flags(idx_dataset, edge_popup_run,
                                                          iterations=40))
  assert process.returncode == 0, process.stderr[-3000:]
  assert conftest.read_summary(
      f'{edge_popup_run}/trial1/biprop/remaining30')['weight_init'] == 'glorot'
  process = conftest.run_module('mnist_fc.runners.supermask', '--percent_remaining=30',
                                '--binarize', *conftest.small_run_flags(
                                    idx_dataset, edge_popup_run, iterations=40))
  assert '--weight_init=kaiming_normal (was glorot)' in process.stderr
  assert process.returncode == 2
  run_dir = f'{edge_popup_run}/trial1/biprop/remaining30'
  assert conftest.read_summary(run_dir)['kind'] == 'biprop'
  masks = save_restore.load_arrays(f'{run_dir}/masks.npz')
  initial = save_restore.load_arrays(f'{run_dir}/initial.npz')
  final = save_restore.load_arrays(f'{run_dir}/final.npz')
  for name, mask in masks.items():
    kernel = initial[f'{name}/kernel']
    alpha = np.abs(kernel)[mask == 1].mean()
    np.testing.assert_allclose(final[f'{name}/kernel'], alpha * np.sign(kernel) * mask,
                               rtol=1e-6)
    assert len(np.unique(final[f'{name}/kernel'])) == 3


@pytest.mark.slow  # ~15 s on 2 cores
def test_binarized_lottery_prunes_latent_weights(idx_dataset, tmp_path):
  out = str(tmp_path / 'binary')
  flags = conftest.small_run_flags(idx_dataset, out, iterations=40)
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', '--levels=1',
                                '--binarize', *flags)
  assert process.returncode == 0, process.stderr[-3000:]
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', '--levels=2',
                                '--binarize', *flags)  # level 1 reloaded from disk
  assert process.returncode == 0, process.stderr[-3000:]
  rates = {'hidden1': 0.2, 'hidden2': 0.2, 'output': 0.1}
  for level in (0, 1, 2):
    run_dir = f'{out}/trial1/level{level}/lottery'
    assert conftest.read_summary(run_dir)['binarize'] is True
    masks = save_restore.load_arrays(f'{run_dir}/masks.npz')
    final = save_restore.load_arrays(f'{run_dir}/final.npz')
    latent = save_restore.load_arrays(f'{run_dir}/final_latent.npz')
    for name, mask in masks.items():
      kernel = final[f'{name}/kernel']
      alpha = np.abs(latent[f'{name}/kernel'])[mask == 1].mean()
      assert len(np.unique(np.abs(kernel[mask == 1]))) == 1  # {-α, 0, +α} exactly
      np.testing.assert_allclose(np.abs(kernel[mask == 1]), alpha, rtol=1e-6)
      np.testing.assert_array_equal(kernel != 0, mask == 1)
    if level:
      previous = f'{out}/trial1/level{level - 1}/lottery'
      expected = pruning.prune_by_percent(
          rates, save_restore.load_arrays(f'{previous}/masks.npz'),
          {k: np.abs(v) for k, v in
           save_restore.load_arrays(f'{previous}/final_latent.npz').items()})
      for name, mask in masks.items():
        np.testing.assert_array_equal(mask, expected[name])
  # An unbinarized run refuses this directory.
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', '--levels=2', *flags)
  assert process.returncode == 2 and '--binarize=False (was True)' in process.stderr
  shutil.rmtree(out)
