"""Instability analysis: the copies, the interpolation path, BatchNorm recomputation, the report."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import tf_keras as keras

from foundations import interpolation
from foundations import model_state
from lottery_ticket import config as config_lib
from lottery_ticket import experiment as experiment_lib
from lottery_ticket.protocols import instability
from mnist_fc import constants
from tests import conftest

RUNNER = 'mnist_fc.runners.instability'


def _flags(idx_dataset, output_dir):
  return conftest.small_run_flags(idx_dataset, output_dir, iterations=60)


@pytest.fixture(scope='module')
def analysed(idx_dataset, tmp_path_factory):
  """Lottery levels 0-2, then instability of levels 0 and 2 at k = 0 and 20, and random masks."""
  output_dir = str(tmp_path_factory.mktemp('instability'))
  for module, extra in (('mnist_fc.runners.lottery_experiment', ['--levels=2']),
                        (RUNNER, ['--level=0,2', '--spawn_iterations=0,20',
                                  '--interpolation_points=5']),
                        (RUNNER, ['--level=2', '--control=random_prune',
                                  '--interpolation_points=5'])):
    process = conftest.run_module(module, *extra, *_flags(idx_dataset, output_dir))
    assert process.returncode == 0, process.stderr
  return output_dir


def _analysis_dir(output_dir, masks, spawn):
  return os.path.join(output_dir, 'trial1', 'instability', masks, f'spawn{spawn}')


def _json(path):
  with open(path) as f:
    return json.load(f)


def _load(path):
  with np.load(path) as data:
    return {k: data[k] for k in data.files}


@pytest.mark.parametrize('masks, spawn', [('level0', 0), ('level2', 20),
                                          ('level2_random_prune', 0)])
def test_path_endpoints_are_the_copies_own_final_evaluations(analysed, masks, spawn):
  directory = _analysis_dir(analysed, masks, spawn)
  curve = pd.read_csv(os.path.join(directory, 'interpolation.csv'))
  assert list(curve['alpha']) == [0.0, 0.25, 0.5, 0.75, 1.0]
  for copy, row in ((1, curve.iloc[0]), (2, curve.iloc[-1])):
    final = pd.read_csv(os.path.join(directory, f'copy{copy}', 'metrics.csv')).iloc[-1]
    assert row['test_loss'] == final['test_loss']  # exactly: the same weights, evaluated again
    assert row['test_error'] == 1 - final['test_accuracy']
  summary = _json(os.path.join(directory, 'summary.json'))
  expected = 100 * (curve['test_error'].max() - (curve['test_error'].iloc[0] +
                                                  curve['test_error'].iloc[-1]) / 2)
  assert summary['instability_test_points'] == pytest.approx(expected)
  assert summary['stable_test'] == (expected < 2.0) and summary['spawn_iteration'] == spawn


def test_copies_differ_in_data_order_only(analysed):
  directory = _analysis_dir(analysed, 'level2', 20)
  one, two = (_json(os.path.join(directory, f'copy{c}', 'summary.json')) for c in (1, 2))
  differing = {k for k in one if one[k] != two[k]}
  results = {'wall_seconds', 'steps_per_second', 'early_stop_iteration',
             'test_accuracy_at_early_stop', 'final_test_accuracy', 'final_validation_accuracy',
             'test_accuracy_at_report_iterations'}
  assert differing - results == {'copy', 'data_order_seed', 'copy_augment_seed'}
  assert one['start_iteration'] == 20 and one['level'] == 2
  for name in ('masks.npz', 'initial.npz'):
    first, second = (_load(os.path.join(directory, f'copy{c}', name)) for c in (1, 2))
    for key in first:
      np.testing.assert_array_equal(first[key], second[key])
  rewound = _load(os.path.join(analysed, 'trial1', 'rewind_iteration20.npz'))
  masks = _load(os.path.join(directory, 'copy1', 'masks.npz'))
  initial = _load(os.path.join(directory, 'copy1', 'initial.npz'))
  np.testing.assert_array_equal(initial['hidden1/kernel'],
                                rewound['hidden1/kernel'] * masks['hidden1'])
  finals = [_load(os.path.join(directory, f'copy{c}', 'final.npz')) for c in (1, 2)]
  assert not np.array_equal(finals[0]['hidden1/kernel'], finals[1]['hidden1/kernel'])


def test_every_interpolated_point_keeps_pruned_weights_zero(analysed):
  directory = _analysis_dir(analysed, 'level2', 0)
  masks = _load(os.path.join(directory, 'copy1', 'masks.npz'))
  finals = [_load(os.path.join(directory, f'copy{c}', 'final.npz')) for c in (1, 2)]
  model = constants.LENET.build((28, 28, 1), 10)
  for alpha in np.linspace(0, 1, 7):
    weights = interpolation.interpolate(finals[0], finals[1], alpha)
    model_state.set_masks(model, masks)
    model_state.set_weights(model, weights)
    for name, mask in masks.items():
      assert np.all(weights[f'{name}/kernel'][mask == 0] == 0)
      assert np.all(model.get_layer(name).kernel.numpy()[mask == 0] == 0)
  for key, value in finals[0].items():
    np.testing.assert_array_equal(interpolation.interpolate(finals[0], finals[1], 0.0)[key], value)
    np.testing.assert_array_equal(interpolation.interpolate(finals[0], finals[1], 1.0)[key],
                                  finals[1][key])


def test_copies_with_the_same_data_order_give_a_flat_path(idx_dataset, tmp_path, monkeypatch):
  config = config_lib.ExperimentConfig(
      protocol='instability', network='lenet300_100', dataset='mnist',
      dataset_path=idx_dataset, output_dir=str(tmp_path), training_iterations=30,
      batch_size=20, learning_rate=1.2e-3, eval_interval=10, validation_size=100,
      ticket_levels=(0,), interpolation_points=6, progress_seconds=1e9)
  monkeypatch.setattr(instability, 'copy_seeds', lambda config, copy: (11, 12))
  instability.instability(experiment_lib.Experiment(config, constants.LENET))
  directory = _analysis_dir(str(tmp_path), 'level0', 0)
  curve = pd.read_csv(os.path.join(directory, 'interpolation.csv'))
  assert curve['test_loss'].nunique() == 1 and curve['train_loss'].nunique() == 1
  summary = _json(os.path.join(directory, 'summary.json'))
  assert summary['instability_test_points'] == 0 and summary['instability_train_points'] == 0


def test_batch_norm_statistics_are_recomputed_as_the_average_over_batches():
  model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(), keras.layers.Dense(2)])
  rng = np.random.default_rng(0)
  batches = [rng.normal(loc=i, size=(8, 3)).astype(np.float32) for i in range(4)]
  layer = model.layers[0]
  layer.moving_mean.assign([5.0, 5.0, 5.0])
  interpolation.recompute_batch_norm(model, batches)
  np.testing.assert_allclose(layer.moving_mean.numpy(),
                             np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-5)
  np.testing.assert_allclose(layer.moving_variance.numpy(),
                             np.mean([b.var(axis=0) for b in batches], axis=0), rtol=1e-4)
  assert layer.momentum == 0.99  # restored


def test_rerun_redoes_nothing(analysed, idx_dataset):
  process = conftest.run_module(RUNNER, '--level=0,2', '--spawn_iterations=0,20',
                                '--interpolation_points=5', *_flags(idx_dataset, analysed))
  assert process.returncode == 0, process.stderr
  assert '] iteration' not in process.stdout and process.stdout.count('already complete') == 4


@pytest.mark.parametrize('flags, message', [
    (['--level=5'], '--level=5: '),
    (['--spawn_iterations=60'], '--spawn_iterations=60: expected iterations in [0, '),
    (['--interpolation_points=1'], '--interpolation_points=1: expected an integer >= 2'),
])
def test_bad_instability_flags(analysed, idx_dataset, tmp_path, flags, message):
  output_dir = str(tmp_path / 'out')
  process = conftest.run_module(RUNNER, *flags, *_flags(idx_dataset, output_dir))
  assert process.returncode == 2 and 'Traceback' not in process.stderr
  assert message in process.stderr and not os.path.exists(output_dir)


def test_report_states_stability_per_sparsity(analysed, tmp_path):
  from lottery_ticket.analysis import report  # pylint: disable=g-import-not-at-top
  written = report.write_report(analysed, str(tmp_path))
  text = open(written['report.md']).read()
  assert '## Instability (linear mode connectivity)' in text
  assert '64.1% remaining (lottery mask), k = 20: stable' in text
  assert '64.1% remaining (random mask), k = 0' in text and 'the dense network' in text
  for name in ('figure_instability_path.png', 'figure_instability.png'):
    assert os.path.getsize(written[name]) > 10_000
  assert len(pd.read_csv(written['instability.csv'])) == 5
