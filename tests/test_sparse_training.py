"""Dynamic sparse training (foundations.mask_updates, protocols.sparse_training): exact counts,
the cosine schedule, RigL's growth against an independent numpy gradient, SET's seeded draws,
zeroed weights and optimizer state of moved positions, bit-exact resume, and the runner's
directories, files and retrained ticket end to end."""

import functools
import json
import os

import numpy as np
import pandas as pd
import pytest
import tf_keras as keras

from foundations import batching
from foundations import checkpointing
from foundations import mask_updates
from foundations import masked_layers
from foundations import model_state
from foundations import optimizers
from foundations import sparsity
from foundations import trainer as trainer_lib
from tests import conftest
from tests import runs

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 255, (40, 4, 4, 1)).astype(np.uint8)
LABELS = RNG.integers(0, 10, 40).astype(np.int32)


def test_drop_and_grow_keeps_the_count_and_picks_by_magnitude_and_score():
  mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], np.float32)
  kernel = np.array([[0.5, -0.1, 0.3, 0], [-0.2, 0, 0, 0]], np.float32) * mask
  scores = np.array([[9, 9, 9, 0.1], [9, 0.7, 0.3, 0.7]])  # ties: lower flat index first
  new, dropped, grown = mask_updates.drop_and_grow(mask, kernel, 0.5, scores)
  assert new.sum() == mask.sum() and new.shape == mask.shape
  assert sorted(dropped) == [1, 4]  # floor(0.5·4) = 2 smallest |w|: -0.1, -0.2
  assert sorted(grown) == [5, 7]  # the two largest scores among the 4 inactive (0.7, 0.7)
  assert not set(grown) & set(dropped)
  full = np.ones((2, 2), np.float32)  # a dense layer has nowhere to grow: nothing moves
  assert mask_updates.drop_and_grow(full, full, 0.5, full)[1].size == 0


def test_the_drop_fraction_follows_the_cosine_and_stops_at_update_end():
  assert mask_updates.drop_fraction_at(0, 0.3, 750) == pytest.approx(0.3)
  assert mask_updates.drop_fraction_at(375, 0.3, 750) == pytest.approx(0.15)
  assert mask_updates.drop_fraction_at(750, 0.3, 750) == 0.0
  assert mask_updates.update_iterations(100, 750, 1000) == (100, 200, 300, 400, 500, 600, 700)
  assert mask_updates.update_iterations(100, 1000, 1000)[-1] == 900


def _linear_model():
  model = keras.Sequential([keras.layers.Rescaling(1.0 / 255, input_shape=(4, 4, 1)),
                            keras.layers.Flatten(), masked_layers.MaskedDense(10, name='out')])
  return model


def _trainer(model, optimizer='adam'):
  return trainer_lib.Trainer(model, optimizers.create(optimizer, 1e-2, 0.9), (IMAGES, LABELS),
                             (IMAGES[:10], LABELS[:10]), (IMAGES[:10], LABELS[:10]))


def _updater(trainer, method, seed=0, interval=2, end=8, iterations=12):
  return mask_updates.MaskUpdater(trainer.model, trainer.optimizer, method, interval, 0.3, end,
                                  iterations, seed, trainer.dense_gradients)


def _random_masks(model, percent=30.0, seed=0):
  shapes = model_state.expected_mask_shapes(model)
  counts = sparsity.keep_counts('uniform', shapes, percent)
  return sparsity.random_masks(counts, shapes, np.random.default_rng(seed))


@pytest.mark.parametrize('optimizer', ['adam', 'sgd'])
def test_rigl_grows_where_an_independent_numpy_gradient_is_largest(optimizer):
  model = _linear_model()
  trainer = _trainer(model, optimizer)
  masks = _random_masks(model)
  order = batching.BatchOrder(40, 10, seed=1)
  trainer.train(model_state.sample_initial_weights(model, 0), masks, 6, order)  # moments != 0
  layer = model.get_layer('out')
  kernel, bias, before = layer.kernel.numpy(), layer.bias.numpy(), layer.mask.numpy()
  indices = order.indices(6, 1)[0]
  x = IMAGES[indices].reshape(len(indices), -1).astype(np.float64) / 255
  logits = x @ kernel + bias
  p = np.exp(logits - logits.max(axis=1, keepdims=True))
  p /= p.sum(axis=1, keepdims=True)
  p[np.arange(len(indices)), LABELS[indices]] -= 1
  gradient = np.abs(x.T @ p / len(indices)).ravel()  # the dense gradient, in numpy
  updater = _updater(trainer, 'rigl')
  updater.start()
  updater(6, indices)
  after = layer.mask.numpy()
  assert after.sum() == before.sum()
  grown = np.flatnonzero((after > 0) & (before == 0))
  dropped = np.flatnonzero((after == 0) & (before > 0))
  count = int(np.floor(mask_updates.drop_fraction_at(6, 0.3, 8) * before.sum()))
  assert grown.size == dropped.size == count > 0
  inactive = np.flatnonzero(before.ravel() == 0)
  expected = inactive[np.argsort(-gradient[inactive], kind='stable')[:count]]
  assert sorted(grown) == sorted(expected)
  active = np.flatnonzero(before.ravel() > 0)
  expected_drop = active[np.argsort(np.abs(kernel.ravel()[active]), kind='stable')[:count]]
  assert sorted(dropped) == sorted(expected_drop)
  moved = np.concatenate([grown, dropped])
  assert not layer.kernel.numpy().ravel()[moved].any()  # grown weights start at 0
  slots = optimizers.slot_variables(trainer.optimizer, layer.kernel)
  assert len(slots) == (2 if optimizer == 'adam' else 1)
  for slot in slots:  # ... with zero Adam moments or momentum; the others keep theirs
    assert not slot.numpy().ravel()[moved].any()
    assert slot.numpy().ravel()[np.setdiff1d(active, dropped)].any()
  assert model.get_layer('out').bias.numpy().tolist() == bias.tolist()  # biases never masked


@functools.lru_cache(maxsize=None)
def _shared_trainer():
  """One compiled trainer for the runs below (every run resets weights, masks and moments)."""
  return _trainer(_linear_model())


def _train_with_updates(method, seed=0, resume=None, checkpoint=None):
  trainer = _shared_trainer()
  model = trainer.model
  updater = _updater(trainer, method, seed)
  result = trainer.train(model_state.sample_initial_weights(model, 0), _random_masks(model), 12,
                         batching.BatchOrder(40, 10, seed=1), eval_interval=3,
                         mask_updater=updater, resume=resume, checkpoint=checkpoint)
  return result, model_state.get_masks(model)['out'], updater.history(), trainer


def test_updates_keep_counts_follow_the_schedule_and_set_reproduces_with_its_seed():
  result, mask, history, trainer = _train_with_updates('set', seed=3)
  assert history['iteration'].tolist() == [2, 4, 6]  # multiples of 2 below T_end = 8
  assert (history['active'] == 48).all()  # 30% of 160, after every update
  expected = [int(np.floor(mask_updates.drop_fraction_at(t, 0.3, 8) * 48)) for t in (2, 4, 6)]
  assert history['dropped'].tolist() == history['grown'].tolist() == expected
  kernel = result.final_weights['out/kernel']
  assert not kernel[mask == 0].any()
  for slot in optimizers.slot_variables(trainer.optimizer, trainer.model.get_layer('out').kernel):
    assert not slot.numpy()[mask == 0].any()  # a dropped weight cannot drift back
  _, same, same_history, _ = _train_with_updates('set', seed=3)
  np.testing.assert_array_equal(same, mask)
  pd.testing.assert_frame_equal(same_history, history)
  _, other, _, _ = _train_with_updates('set', seed=4)
  assert (other != mask).any()


def test_a_run_resumed_after_an_update_equals_the_uninterrupted_one(tmp_path):
  full, mask, history, _ = _train_with_updates('rigl')
  saver = runs.SaveAt(4)  # saved just after the update at 4: resuming must not repeat it
  _train_with_updates('rigl', checkpoint=saver)
  checkpointer = checkpointing.Checkpointer(str(tmp_path / 'checkpoint.npz'))
  checkpointer.save(saver.states[0])
  resumed, resumed_mask, resumed_history, _ = _train_with_updates(
      'rigl', resume=checkpointer.load())
  np.testing.assert_array_equal(resumed_mask, mask)
  pd.testing.assert_frame_equal(resumed_history, history)
  for key, value in full.final_weights.items():
    np.testing.assert_array_equal(resumed.final_weights[key], value, err_msg=key)
  pd.testing.assert_frame_equal(resumed.history, full.history)


DST = 'mnist_fc.runners.sparse_training'


def _dst_flags(idx_dataset, out, methods):
  return conftest.small_run_flags(idx_dataset, out, iterations=60) + [
      f'--method={methods}', '--percent_remaining=7.0', '--update_interval=20',
      '--checkpoint_interval=20', '--progress_seconds=0']


@pytest.fixture(scope='module')
def dst_experiment(idx_dataset, tmp_path_factory):
  """RigL, SET and static LeNet runs at 7% (ERK), and RigL's mask retrained from θ0."""
  out = str(tmp_path_factory.mktemp('dst'))
  flags = conftest.small_run_flags(idx_dataset, out, iterations=60)
  process = conftest.run_module(DST, *_dst_flags(idx_dataset, out, 'rigl,set,static'))
  assert process.returncode == 0, process.stderr[-3000:]
  rigl = os.path.join(out, 'trial1', 'sparse_training', 'rigl_erk', 'remaining7')
  process = conftest.run_module('mnist_fc.runners.train', *flags, f'--masks={rigl}')
  assert process.returncode == 0, process.stderr[-3000:]
  return out


def _run(out, variant):
  return os.path.join(out, 'trial1', 'sparse_training', variant, 'remaining7')


def test_the_runner_records_the_moving_masks_and_the_retrained_ticket(dst_experiment):
  out = dst_experiment
  shapes = {'hidden1': (784, 300), 'hidden2': (300, 100), 'output': (100, 10)}
  counts = sparsity.keep_counts('erk', shapes, 7.0)
  masks = {}
  for method in ('rigl', 'set', 'static'):
    run = _run(out, f'{method}_erk')
    with open(os.path.join(run, 'summary.json')) as f:
      summary = json.load(f)
    assert (summary['experiment'], summary['method']) == ('sparse_training', method)
    masks[method] = dict(np.load(os.path.join(run, 'masks.npz')))
    assert {k: int(v.sum()) for k, v in masks[method].items()} == counts
    with np.load(os.path.join(run, 'initial.npz')) as initial:  # where it started: θ0 masked
      started = {k: (initial[f'{k}/kernel'] != 0) for k in shapes}
    with np.load(os.path.join(run, 'final.npz')) as final:
      for name, mask in masks[method].items():
        assert not final[f'{name}/kernel'][mask == 0].any(), (method, name)
    if method == 'static':
      assert not os.path.exists(os.path.join(run, 'mask_updates.csv'))
      for name in shapes:  # the control never moves, and is where RigL and SET began
        np.testing.assert_array_equal(masks['static'][name] > 0, started[name])
      continue
    history = pd.read_csv(os.path.join(run, 'mask_updates.csv'))
    assert history['iteration'].unique().tolist() == [20, 40]  # T_end = 0.75 · 60 = 45
    assert summary['mask_update_iterations'] == [20, 40]
    for name, count in counts.items():
      assert (history[history['layer'] == name]['active'] == count).all()
    assert (masks[method]['hidden1'] != (started['hidden1'])).any()  # it moved
  ticket = _run(out, 'rigl_erk_ticket')
  with open(os.path.join(ticket, 'summary.json')) as f:
    summary = json.load(f)
  assert summary['experiment'] == 'train' and summary['ticket_of'] == 'sparse_rigl_erk'
  for name, mask in np.load(os.path.join(ticket, 'masks.npz')).items():
    np.testing.assert_array_equal(mask, masks['rigl'][name])
  report = str(os.path.join(out, 'report'))
  process = conftest.run_module('lottery_ticket.analysis.report', f'--experiment_dir={out}',
                                f'--output_dir={report}')
  assert process.returncode == 0, process.stderr[-3000:]
  kinds = set(pd.read_csv(os.path.join(report, 'runs.csv'))['kind'])
  assert kinds == {'sparse_rigl_erk', 'sparse_set_erk', 'sparse_static_erk',
                   'sparse_rigl_erk_ticket'}


@pytest.mark.slow  # test_a_run_resumed_after_an_update_... checks the claim in process
def test_a_killed_rigl_run_resumes_bit_for_bit(dst_experiment, idx_dataset, tmp_path):
  out = str(tmp_path / 'killed')
  args = _dst_flags(idx_dataset, out, 'rigl')
  runs.run_until(DST, args, 'rigl_erk 7%] iteration 40/60')  # past the update at 20
  process = conftest.run_module(DST, *args)
  assert process.returncode == 0, process.stderr[-3000:]
  assert 'resuming from the checkpoint at iteration' in process.stdout
  expected = runs.run_files(dst_experiment)
  actual = runs.run_files(out)
  assert actual
  for name, value in actual.items():
    if isinstance(value, pd.DataFrame):
      pd.testing.assert_frame_equal(value, expected[name], check_exact=True)
    elif name.endswith('.npz'):
      for key in value:
        np.testing.assert_array_equal(value[key], expected[name][key], err_msg=f'{name} {key}')
    else:
      assert value == expected[name], name
