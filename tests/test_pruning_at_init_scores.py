"""Pruning-at-initialization scores (foundations.init_scores), sparsity distributions
(foundations.sparsity) and multiply-add counts (foundations.flops), on tiny networks, each checked
against an independent computation: a plain GradientTape, finite differences in float64, SynFlow's
closed form for positive networks, the distributions' formulas, and counts by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from foundations import errors
from foundations import flops
from foundations import init_scores
from foundations import masked_layers
from foundations import model_state
from foundations import sparsity

LAYERS = ('hidden', 'output')
BN_GAMMA = np.array([0.5, 2.0, 3.0])
BN_VARIANCE = np.array([4.0, 0.25, 1.0])
BN_EPSILON = 1e-3  # Keras' default


def _set_state(model, rng, masks, **presets):
  """Sets `masks` and weights drawn from `rng` (or `presets`, by key) on `model`."""
  model_state.set_masks(model, masks)
  shapes = model_state.expected_weight_shapes(model)
  model_state.set_weights(model, {key: presets.get(key.replace('/', '_'), rng.normal(size=shape))
                                  for key, shape in shapes.items()})
  return model


def _dense_net(use_bias, seed):
  """8 -> ReLU 6 -> 4, a quarter of the hidden kernel pruned."""
  model = keras.Sequential([
      keras.Input((8,)),
      masked_layers.MaskedDense(6, activation='relu', use_bias=use_bias, name='hidden'),
      masked_layers.MaskedDense(4, use_bias=use_bias, name='output')])
  rng = np.random.default_rng(seed)
  masks = {'hidden': (rng.random((8, 6)) > 0.25).astype(np.float32),
           'output': np.ones((6, 4), np.float32)}
  return _set_state(model, rng, masks)


@pytest.fixture(scope='module')
def dense_net():
  return _dense_net(use_bias=True, seed=0)


@pytest.fixture(scope='module')
def batches():
  rng = np.random.default_rng(1)
  return [(rng.normal(size=(5, 8)).astype(np.float32), rng.integers(0, 4, 5)) for _ in range(2)]


@pytest.fixture(scope='module')
def conv_net():
  """uint8 7x7x2 -> /255 -> 3x3 conv stride 2 (3x3x3 out) -> BatchNorm -> ReLU -> 27 -> 4."""
  model = keras.Sequential([
      keras.layers.Rescaling(1.0 / 255, input_shape=(7, 7, 2)),
      masked_layers.MaskedConv2D(3, 3, strides=2, use_bias=False, name='conv'),
      keras.layers.BatchNormalization(epsilon=BN_EPSILON, name='bn'),
      keras.layers.ReLU(),
      keras.layers.Flatten(),
      masked_layers.MaskedDense(4, use_bias=False, name='output')])
  rng = np.random.default_rng(2)
  masks = {'conv': (rng.random((3, 3, 2, 3)) > 0.3).astype(np.float32),
           'output': (rng.random((27, 4)) > 0.5).astype(np.float32)}
  return _set_state(model, rng, masks, bn_gamma=BN_GAMMA, bn_beta=np.zeros(3),
                    bn_moving_mean=np.zeros(3), bn_moving_variance=BN_VARIANCE)


def _float64_gradients(model, batches, kernels):
  """∇ of the mean over `batches` of the mean cross-entropy of the dense net with `kernels`
  ({layer: float64 array}), written out by hand in float64."""
  weights = {key: tf.constant(value, tf.float64)
             for key, value in model_state.get_weights(model).items()}
  masks = {name: tf.constant(mask, tf.float64)
           for name, mask in model_state.get_masks(model).items()}
  variables = [tf.constant(kernels[name], tf.float64) for name in LAYERS]
  with tf.GradientTape() as tape:
    tape.watch(variables)
    loss = 0.0
    for images, labels in batches:
      hidden = tf.nn.relu(tf.constant(images, tf.float64) @ (variables[0] * masks['hidden']) +
                          weights['hidden/bias'])
      logits = hidden @ (variables[1] * masks['output']) + weights['output/bias']
      loss += tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    loss /= len(batches)
  return dict(zip(LAYERS, (g.numpy() for g in tape.gradient(loss, variables))))


def test_snip_is_gradient_times_weight(dense_net, batches):
  scores = init_scores.snip(dense_net, batches)
  layers = masked_layers.masked_layers(dense_net)
  kernels = [layer.kernel for layer in layers.values()]
  per_batch = []
  for images, labels in batches:
    with tf.GradientTape() as tape:
      logits = dense_net(images, training=False)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    per_batch.append([g.numpy() for g in tape.gradient(loss, kernels)])
  for index, (name, layer) in enumerate(layers.items()):
    gradient = np.mean([gradients[index] for gradients in per_batch], axis=0)
    score = scores[f'{name}/kernel']
    assert score.dtype == np.float64 and score.shape == tuple(layer.kernel.shape)
    np.testing.assert_allclose(score, np.abs(gradient * layer.kernel.numpy()), rtol=1e-5,
                               atol=1e-9)
  assert np.all(scores['hidden/kernel'][layers['hidden'].mask.numpy() == 0] == 0)
  magnitudes = init_scores.magnitude(dense_net)
  np.testing.assert_array_equal(magnitudes['hidden/kernel'],
                                np.abs(model_state.get_weights(dense_net)['hidden/kernel']))


def test_grasp_hessian_gradient_matches_finite_differences(dense_net, batches):
  # Central differences of the float64 gradient along g, step 1e-4 / max|g|. The scores come
  # from the float32 network (off by ~3e-7 of the largest entry here), so the tolerance is 1e-4
  # relative plus 1e-5 of the largest entry.
  g, hg = init_scores.gradients_and_hessian_gradients(dense_net, batches)
  weights = model_state.get_weights(dense_net)
  kernels = {name: weights[f'{name}/kernel'].astype(np.float64) for name in LAYERS}
  reference_g = _float64_gradients(dense_net, batches, kernels)
  step = 1e-4 / max(np.abs(v).max() for v in reference_g.values())
  plus = _float64_gradients(dense_net, batches,
                            {n: kernels[n] + step * reference_g[n] for n in LAYERS})
  minus = _float64_gradients(dense_net, batches,
                             {n: kernels[n] - step * reference_g[n] for n in LAYERS})
  grasp = init_scores.grasp(dense_net, batches)
  for name in LAYERS:
    key = f'{name}/kernel'
    np.testing.assert_allclose(g[key], reference_g[name], rtol=1e-4, atol=1e-7)
    expected = (plus[name] - minus[name]) / (2 * step)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(hg[key], expected, rtol=1e-4, atol=1e-5 * scale)
    # keep score = −S = w ⊙ Hg: GraSP removes the highest S.
    np.testing.assert_allclose(grasp[key], kernels[name] * expected, rtol=1e-4,
                               atol=1e-5 * scale * np.abs(kernels[name]).max())


def test_synflow_scores_equal_the_closed_form_and_are_conserved():
  model = _dense_net(use_bias=False, seed=3)
  _, scores = init_scores.synflow(model, LAYERS, 100.0, rounds=1)
  hidden, output = (np.abs(model_state.get_weights(model)[f'{n}/kernel'].astype(np.float64))
                    for n in LAYERS)
  flow_in = np.ones(8) @ hidden  # with |w| every ReLU passes: the net is linear and positive
  np.testing.assert_allclose(scores['hidden/kernel'], hidden * output.sum(axis=1), rtol=1e-12)
  np.testing.assert_allclose(scores['output/kernel'], flow_in[:, None] * output, rtol=1e-12)
  synaptic_flow = flow_in @ output.sum(axis=1)
  for name in LAYERS:
    assert math.isclose(scores[f'{name}/kernel'].sum(), synaptic_flow, rel_tol=1e-12)
  # Mid-schedule the scores are those of the masked network, still conserved per layer.
  masks, scores = init_scores.synflow(model, LAYERS, 30.0, rounds=3)
  assert sum(int(m.sum()) for m in masks.values()) == 22  # round-half-up(0.3 x 72)
  assert math.isclose(scores['hidden/kernel'].sum(), scores['output/kernel'].sum(),
                      rel_tol=1e-12)


def test_synflow_schedule_lands_on_the_exact_count_and_leaves_the_model(dense_net):
  weights, masks = model_state.get_weights(dense_net), model_state.get_masks(dense_net)
  new_masks, _ = init_scores.synflow(dense_net, LAYERS, 10.0)  # 100 rounds
  assert sum(int(m.sum()) for m in new_masks.values()) == 7  # round-half-up(0.1 x 72)
  assert all(np.all(new_masks[n] <= masks[n]) and new_masks[n].dtype == np.float32
             for n in LAYERS)
  only_hidden, _ = init_scores.synflow(dense_net, ['hidden'], 40.0, rounds=5)
  assert int(only_hidden['hidden'].sum()) == 29 - 24  # the output layer is not pruned
  np.testing.assert_array_equal(only_hidden['output'], masks['output'])
  with pytest.raises(errors.UserInputError, match='unreachable'):
    init_scores.synflow(dense_net, ['hidden'], 20.0)
  after = model_state.get_weights(dense_net)
  assert all(np.array_equal(weights[key], after[key]) for key in weights)
  assert all(np.array_equal(masks[n], model_state.get_masks(dense_net)[n]) for n in LAYERS)
  assert keras.mixed_precision.global_policy().name == 'float32'
  assert all(w.dtype == tf.float32 for w in dense_net.weights)


def test_synflow_runs_batch_norm_in_inference_mode_past_input_scaling(conv_net):
  _, scores = init_scores.synflow(conv_net, ['conv', 'output'], 100.0, rounds=1)
  weights, masks = model_state.get_weights(conv_net), model_state.get_masks(conv_net)
  weights = {key: value.astype(np.float64) for key, value in weights.items()}
  conv = np.abs(weights['conv/kernel'])
  # All-ones input reaching the convolution: every one of the 3x3 output positions is the sum of
  # the kernel; BatchNorm scales by |gamma| / sqrt(moving variance + epsilon).
  channels = conv.sum(axis=(0, 1, 2)) * BN_GAMMA / np.sqrt(BN_VARIANCE + BN_EPSILON)
  flattened = np.tile(channels, 9)  # (height, width, channel) order
  output = np.abs(weights['output/kernel']) * masks['output']
  np.testing.assert_allclose(scores['output/kernel'], flattened[:, None] * output, rtol=1e-12)
  synaptic_flow = flattened @ output.sum(axis=1)
  assert math.isclose(scores['conv/kernel'].sum(), synaptic_flow, rel_tol=1e-12)


def test_conv_multiply_adds_by_hand(conv_net):
  masks = model_state.get_masks(conv_net)
  kept_conv, kept_output = int(masks['conv'].sum()), int(masks['output'].sum())
  per_layer, fraction = flops.multiply_adds(conv_net, masks)
  assert per_layer == {'conv': (9 * kept_conv, 9 * 54), 'output': (kept_output, 108)}
  assert fraction == (9 * kept_conv + kept_output) / (9 * 54 + 108)


SHAPES = {'conv1': (3, 3, 3, 8), 'conv2': (3, 3, 8, 16), 'tiny': (1, 1, 2, 2), 'fc': (64, 10)}
RAW = {  # ERK as RigL writes it, sum(shape) / prod(shape); ER from the last two dimensions
    'erk': lambda shape: sum(shape) / np.prod(shape),
    'er': lambda shape: (shape[-2] + shape[-1]) / (shape[-2] * shape[-1]),
    'uniform': lambda shape: 1.0,
}


@pytest.mark.parametrize('distribution, percent, dense_layers', [
    ('uniform', 30.0, set()), ('uniform', 60.0, set()),
    ('er', 30.0, {'tiny'}), ('er', 60.0, {'tiny', 'conv1'}),  # capped, then ε solved again
    ('erk', 30.0, {'tiny'}), ('erk', 60.0, {'tiny', 'fc'})])
def test_distributions_follow_their_formula(distribution, percent, dense_layers):
  sizes = {name: int(np.prod(shape)) for name, shape in SHAPES.items()}
  densities = sparsity.densities(distribution, SHAPES, percent)
  assert {name for name, d in densities.items() if d == 1.0} == dense_layers
  epsilons = [densities[n] / RAW[distribution](SHAPES[n]) for n in SHAPES if n not in dense_layers]
  np.testing.assert_allclose(epsilons, epsilons[0], rtol=1e-12)  # one ε for the rest
  assert math.isclose(sum(densities[n] * sizes[n] for n in SHAPES), percent / 100 * 2012,
                      rel_tol=1e-12)
  counts = sparsity.keep_counts(distribution, SHAPES, percent)
  assert sum(counts.values()) == math.floor(percent / 100 * 2012 + 0.5)
  assert all(abs(counts[n] - densities[n] * sizes[n]) < 1 for n in SHAPES)


def test_rounding_ties_go_to_earlier_layers_and_paper_counts_pass_through():
  shapes = {'a': (1, 3), 'b': (1, 2)}
  assert sparsity.keep_counts('uniform', shapes, 50.0) == {'a': 2, 'b': 1}  # 2.5 -> 3 in all
  assert sparsity.keep_counts('paper', shapes, 50.0, {'b': 2, 'a': 1}) == {'a': 1, 'b': 2}
  with pytest.raises(errors.UserInputError, match='paper_counts'):
    sparsity.keep_counts('paper', shapes, 50.0)
  with pytest.raises(errors.UserInputError, match='expected one of'):
    sparsity.keep_counts('erdos', shapes, 50.0)


@pytest.mark.parametrize('percent', [0, -5, 100.5, float('nan'), 'abc'])
def test_bad_percent_is_one_line_error(percent):
  with pytest.raises(errors.UserInputError, match='percent_remaining') as error:
    sparsity.keep_counts('erk', SHAPES, percent)
  assert '\n' not in str(error.value)


def test_random_masks_have_exact_counts():
  counts = sparsity.keep_counts('erk', SHAPES, 20.0)
  masks = sparsity.random_masks(counts, SHAPES, np.random.default_rng(4))
  again = sparsity.random_masks(counts, SHAPES, np.random.default_rng(4))
  for name, shape in SHAPES.items():
    assert masks[name].shape == shape and masks[name].dtype == np.float32
    assert int(masks[name].sum()) == counts[name] and set(np.unique(masks[name])) <= {0.0, 1.0}
    np.testing.assert_array_equal(masks[name], again[name])
