import contextlib

import numpy as np
import pytest
import tf_keras as keras

from foundations import batching
from foundations import determinism
from foundations import early_bird
from foundations import errors
from foundations import masked_layers
from foundations import model_state
from foundations import pruning
from foundations import trainer
from mnist_fc import model as lenet
from tests import runs


@pytest.fixture(scope='module')
def setup():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 255, (300, 28, 28, 1)).astype(np.uint8)
  labels = rng.integers(0, 10, 300).astype(np.uint8)
  net = lenet.build((28, 28, 1), 10)
  t = trainer.Trainer(net, keras.optimizers.Adam(1e-3), (images[:200], labels[:200]),
                      (images[200:250], labels[200:250]), (images[250:], labels[250:]),
                      eval_batch_size=32)
  initial = model_state.sample_initial_weights(net, seed=1)
  ones = {k: np.ones(s, np.float32) for k, s in model_state.expected_mask_shapes(net).items()}
  return t, initial, ones


def _half_masks(initial, ones):
  return pruning.prune_by_percent({k: 0.5 for k in ones}, ones,
                                  {k: np.abs(v) for k, v in initial.items()})


def test_pruned_weights_stay_exactly_zero(setup):
  t, initial, ones = setup
  masks = _half_masks(initial, ones)
  result = t.train(initial, masks, 30, batching.BatchOrder(200, 20, 0), eval_interval=10)
  for name, mask in masks.items():
    kernel = t.model.get_layer(name).kernel.numpy()
    assert np.all(kernel[mask == 0] == 0)  # the variable itself, not only kernel * mask
    assert np.all(result.final_weights[f'{name}/kernel'][mask == 0] == 0)
    assert np.any(result.final_weights[f'{name}/kernel'] != result.initial_weights[
        f'{name}/kernel'])
  assert list(result.history['iteration']) == [0, 10, 20, 30]
  assert tuple(result.history.columns) == trainer.METRIC_COLUMNS


def test_first_row_scores_the_masked_network_at_its_starting_weights(setup):
  t, initial, ones = setup
  masks = _half_masks(initial, ones)
  model_state.set_masks(t.model, masks)
  model_state.set_weights(t.model, initial)
  expected = {**t.evaluate('validation'), **t.evaluate('test')}
  result = t.train(initial, masks, 20, batching.BatchOrder(200, 20, 0), eval_interval=10,
                   start_iteration=10)
  first = result.history.iloc[0]
  assert first['iteration'] == 10 and np.isnan(first['train_loss'])
  assert np.isnan(first['train_accuracy'])
  for key, value in expected.items():
    assert first[key] == value
  assert list(result.history['iteration']) == [10, 20]


def test_run_starts_from_given_weights_and_fresh_optimizer(setup):
  t, initial, ones = setup
  order = batching.BatchOrder(200, 20, 3)
  first = t.train(initial, ones, 25, order, eval_interval=5)
  assert any(np.any(v.numpy() != 0) for v in t.optimizer.variables)  # state exists ...
  second = t.train(initial, ones, 25, order, eval_interval=5)  # ... and is reset here
  for key, value in initial.items():
    np.testing.assert_array_equal(first.initial_weights[key], value)
  for key in first.final_weights:
    np.testing.assert_array_equal(first.final_weights[key], second.final_weights[key])
  assert first.history.equals(second.history)


def test_no_retracing_across_runs(setup):
  t, initial, ones = setup
  order = batching.BatchOrder(200, 20, 0)
  t.train(initial, ones, 20, order, eval_interval=10)
  traces = t.traces
  t.train(initial, _half_masks(initial, ones), 20, order, eval_interval=10)
  assert t.traces == traces


def test_divergence_raises(setup):
  _, initial, ones = setup
  t, _, _ = setup
  huge = {k: v * 1e30 for k, v in initial.items()}
  with pytest.raises(errors.TrainingDivergedError, match='iteration 10'):
    t.train(huge, ones, 30, batching.BatchOrder(200, 20, 0), eval_interval=10)


def test_batch_order_reshuffles_every_epoch_and_is_a_function_of_iteration():
  order = batching.BatchOrder(10, 4, seed=5)
  stream = order.indices(0, 10).ravel()  # 40 examples = 4 epochs
  for epoch in range(4):
    assert sorted(stream[10 * epoch:10 * epoch + 10]) == list(range(10))
  assert not np.array_equal(stream[:10], stream[10:20])
  parts = np.concatenate([batching.BatchOrder(10, 4, 5).indices(i, 1) for i in range(10)])
  np.testing.assert_array_equal(parts.ravel(), stream)
  assert not np.array_equal(batching.BatchOrder(10, 4, 6).indices(0, 10).ravel(), stream)


def test_initial_weights_are_a_function_of_the_seed(setup):
  t, initial, _ = setup
  again = model_state.sample_initial_weights(t.model, seed=1)
  other = model_state.sample_initial_weights(t.model, seed=2)
  for key, value in initial.items():
    np.testing.assert_array_equal(again[key], value)
  assert not np.array_equal(other['hidden1/kernel'], initial['hidden1/kernel'])


def test_resume_with_dropout_is_bit_exact(setup):
  _, initial, ones = setup
  t, _, _ = setup
  train, validation, test = ((t._train_images.numpy(), t._train_labels.numpy()),) + tuple(
      (s.images.numpy().reshape((-1, 28, 28, 1)), s.labels.numpy().ravel())
      for s in (t._splits['validation'], t._splits['test']))
  keras.backend.experimental.enable_tf_random_generator()

  def make_trainer():
    keras.utils.set_random_seed(7)
    net = lenet.build((28, 28, 1), 10, dropout_rate=0.5)
    return trainer.Trainer(net, keras.optimizers.Adam(1e-3), train, validation, test)

  order = batching.BatchOrder(200, 20, 0)
  interrupted = make_trainer()
  saver = runs.SaveAt(20)
  full = interrupted.train(initial, ones, 40, order, eval_interval=10, checkpoint=saver)
  again = interrupted.train(initial, ones, 40, order, eval_interval=10)  # RNG reset per run
  resumed = make_trainer().train(initial, ones, 40, order, eval_interval=10,
                                 resume=saver.states[0])
  for result in (again, resumed):
    for key, value in full.final_weights.items():
      np.testing.assert_array_equal(result.final_weights[key], value)
    assert result.history.equals(full.history)


def test_mask_distance_is_the_hamming_distance_of_consecutive_evaluations_masks(setup):
  t, initial, ones = setup
  rates = {'hidden1': 0.2, 'hidden2': 0.2, 'output': 0.1}

  def draw(weights):
    return pruning.prune_by_percent(rates, ones, {k: np.abs(v) for k, v in weights.items()})

  seen = []  # the weights at every evaluation after the first, read independently
  tracker = early_bird.MaskDistance(draw)
  result = t.train(initial, ones, 30, batching.BatchOrder(200, 20, 0), eval_interval=10,
                   on_eval=lambda row, _: seen.append(model_state.get_weights(t.model)),
                   tracker=tracker)
  masks = [draw(initial)] + [draw(weights) for weights in seen]
  expected = [sum(int((a[n] != b[n]).sum()) for n in a) / sum(m.size for m in a.values())
              for a, b in zip(masks, masks[1:])]
  distances = result.history['mask_distance'].tolist()
  assert np.isnan(distances[0]) and distances[1:] == expected and expected[0] > 0
  assert tracker.state().keys() == ones.keys()
  assert early_bird.emerged([np.nan, 0.3, 0.05, 0.01, 0.02, 0.04, 0.03], 0.1, window=4) == 5
  assert early_bird.emerged([np.nan, 0.3, 0.2], 0.1) is None


def test_determinism_probe_leaves_every_variable_as_it_was(setup):
  """The --deterministic probe trains one step and evaluates, then puts back the weights, the
  optimizer's step, slots, learning rate and loss scale, and the dropout generators."""
  _, initial, ones = setup
  t, _, _ = setup
  train, validation = (t._train_images.numpy(), t._train_labels.numpy()), (
      t._splits['validation'].images.numpy().reshape((-1, 28, 28, 1)),
      t._splits['validation'].labels.numpy().ravel())
  keras.backend.experimental.enable_tf_random_generator()
  net = lenet.build((28, 28, 1), 10, dropout_rate=0.5)
  optimizer = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.Adam(1e-3))
  probed = trainer.Trainer(net, optimizer, train, validation, validation)
  order = batching.BatchOrder(200, 20, 0)
  probed.train(initial, ones, 10, order, eval_interval=10)  # state moved on from its start

  def state():
    return [*net.get_weights(), optimizer.iterations.numpy(), optimizer.learning_rate.numpy(),
            optimizer.dynamic_counter.numpy(), optimizer.loss_scale.numpy(),
            *[s.numpy() for s in model_state.random_states(net)]]

  before = state()
  determinism.probe(probed, order.indices(10, 1), jit_compile=True)
  after = state()
  assert len(after) == len(before)
  for expected, actual in zip(before, after):
    np.testing.assert_array_equal(actual, expected)


def _sparse_training_weights(monkeypatch, skip_forward_mask):
  """A tiny masked network's weights after 10 Adam steps with weight decay at 25% density."""
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
