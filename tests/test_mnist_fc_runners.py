"""End-to-end: the mnist_fc runners as subprocesses on small generated IDX data."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from foundations import save_restore
from tests import conftest

LEVELS = 3


def _load(run_dir, name):
  return save_restore.load_arrays(os.path.join(run_dir, name))


def _summary(run_dir):
  with open(os.path.join(run_dir, 'summary.json')) as f:
    return json.load(f)


def _lottery_dir(output_dir, level, experiment='lottery'):
  return os.path.join(output_dir, 'trial1', f'level{level}', experiment)


@pytest.fixture(scope='module')
def lottery_output(idx_dataset, tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp('lottery'))
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', f'--levels={LEVELS - 1}',
                                *conftest.small_run_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  return output_dir, process


def test_lottery_experiment_files_and_percent_remaining(lottery_output):
  output_dir, process = lottery_output
  expected = [(100.0, 100.0), (80.0, 90.0), (64.0, 81.0)]
  for level, (hidden, output) in enumerate(expected):
    run_dir = _lottery_dir(output_dir, level)
    assert sorted(os.listdir(run_dir)) == ['final.npz', 'initial.npz', 'masks.npz',
                                           'metrics.csv', 'summary.json', 'tensorboard']
    assert os.listdir(os.path.join(run_dir, 'tensorboard'))
    summary = _summary(run_dir)
    layers = summary['layers']
    assert layers['hidden1']['percent_remaining'] == pytest.approx(hidden)
    assert layers['hidden2']['percent_remaining'] == pytest.approx(hidden)
    assert layers['output']['percent_remaining'] == pytest.approx(output)
    assert layers['output']['remaining'] == round(10 * output) and summary['level'] == level
    metrics = pd.read_csv(os.path.join(run_dir, 'metrics.csv'))
    assert list(metrics['iteration']) == [0, 20, 40, 60]  # 0: the masked network untrained
    assert np.isnan(metrics['train_loss'][0]) and not metrics['train_loss'][1:].isna().any()
    assert summary['test_accuracy_at_init'] == pytest.approx(metrics['test_accuracy'][0])
    assert summary['validation_accuracy_at_init'] == pytest.approx(
        metrics['validation_accuracy'][0])
    assert summary['mask_criterion'] == 'magnitude'
    best = metrics['validation_loss'][1:].idxmin()  # early stopping: trained networks only
    assert summary['early_stop_iteration'] == metrics['iteration'][best]
    assert summary['test_accuracy_at_early_stop'] == pytest.approx(metrics['test_accuracy'][best])
    assert summary['final_test_accuracy'] == pytest.approx(metrics['test_accuracy'].iloc[-1])
    assert summary['steps_per_second'] > 0 and summary['wall_seconds'] > 0
  assert 'level2 lottery] done: 64.1% remaining' in process.stdout
  assert not [f for f in os.listdir(os.path.join(output_dir, 'trial1', 'level0'))
              if f.startswith('.')]  # no partial directories left


def test_every_level_resets_survivors_to_theta0(lottery_output):
  output_dir, _ = lottery_output
  theta0 = _load(_lottery_dir(output_dir, 0), 'initial.npz')
  previous = None
  for level in range(LEVELS):
    run_dir = _lottery_dir(output_dir, level)
    masks, initial, final = (_load(run_dir, n) for n in ('masks.npz', 'initial.npz', 'final.npz'))
    for name, mask in masks.items():
      np.testing.assert_array_equal(initial[f'{name}/kernel'], theta0[f'{name}/kernel'] * mask)
      np.testing.assert_array_equal(initial[f'{name}/bias'], theta0[f'{name}/bias'])
      assert np.all(final[f'{name}/kernel'][mask == 0] == 0)
      if previous is not None:
        assert np.all(mask <= previous[name])
    if previous is not None:  # the pruned weights are the smallest trained ones of the level before
      before = _load(_lottery_dir(output_dir, level - 1), 'final.npz')['hidden1/kernel']
      removed = (previous['hidden1'] == 1) & (masks['hidden1'] == 0)
      kept = masks['hidden1'] == 1
      assert np.abs(before[removed]).max() <= np.abs(before[kept]).min()
    previous = masks


def test_rerun_skips_completed_levels(lottery_output, idx_dataset):
  output_dir, _ = lottery_output
  path = os.path.join(_lottery_dir(output_dir, 1), 'final.npz')
  mtime = os.path.getmtime(path)
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', f'--levels={LEVELS - 1}',
                                *conftest.small_run_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  assert process.stdout.count('already complete') == LEVELS
  assert os.path.getmtime(path) == mtime


def test_one_shot_reuses_dense_run_and_reaches_target(lottery_output, idx_dataset):
  output_dir, _ = lottery_output
  process = conftest.run_module('mnist_fc.runners.one_shot', '--percent_remaining=20,51.3',
                                *conftest.small_run_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  assert 'level0/lottery: already complete' in process.stdout
  for percent in (20, 51.3):
    summary = _summary(os.path.join(output_dir, 'trial1', 'one_shot', f'remaining{percent:g}'))
    assert summary['percent_remaining'] == pytest.approx(percent, abs=0.01)
    hidden = summary['layers']['hidden1']['percent_remaining'] / 100
    output = summary['layers']['output']['percent_remaining'] / 100
    assert np.log(hidden) / np.log(0.8) == pytest.approx(np.log(output) / np.log(0.9), rel=0.02)


def test_mask_criteria_share_the_dense_run_and_rank_by_their_scores(lottery_output,
                                                                     idx_dataset):
  output_dir, _ = lottery_output
  flags = conftest.small_run_flags(idx_dataset, output_dir)
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', '--levels=1',
                                '--mask_criterion=large_final_same_sign', *flags)
  assert process.returncode == 0, process.stderr
  assert 'level0/lottery: already complete' in process.stdout
  run_dir = _lottery_dir(output_dir, 1, 'lottery_large_final_same_sign')
  assert _summary(run_dir)['mask_criterion'] == 'large_final_same_sign'
  w0 = _load(_lottery_dir(output_dir, 0), 'initial.npz')['hidden1/kernel']
  wT = _load(_lottery_dir(output_dir, 0), 'final.npz')['hidden1/kernel']
  mask = _load(run_dir, 'masks.npz')['hidden1']
  flipped = np.sign(w0) * np.sign(wT) < 0
  assert 0 < flipped.sum() < 0.2 * mask.size  # all flipped go, then the smallest of the rest
  assert np.all(mask[flipped] == 0)
  assert np.abs(wT[(mask == 0) & ~flipped]).max() <= np.abs(wT[mask == 1]).min()
  process = conftest.run_module('mnist_fc.runners.one_shot', '--percent_remaining=20',
                                '--mask_criterion=random', *flags)
  assert process.returncode == 0, process.stderr
  summary = _summary(os.path.join(output_dir, 'trial1', 'one_shot_random', 'remaining20'))
  assert summary['percent_remaining'] == pytest.approx(20, abs=0.01)
  assert summary['mask_criterion'] == 'random'


@pytest.mark.parametrize('mode', ['glorot', 'sample_original_signs'])
def test_reinitialize_keeps_mask_and_changes_init(lottery_output, idx_dataset, mode):
  output_dir, _ = lottery_output
  process = conftest.run_module('mnist_fc.runners.reinitialize', '--level=1,2',
                                f'--reinit_mode={mode}',
                                *conftest.small_run_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  theta0 = _load(_lottery_dir(output_dir, 0), 'initial.npz')['hidden1/kernel']
  name = 'reinit' if mode == 'glorot' else f'reinit_{mode}'
  for level in (1, 2):
    run_dir = _lottery_dir(output_dir, level, name)
    masks = _load(run_dir, 'masks.npz')
    np.testing.assert_array_equal(masks['hidden1'],
                                  _load(_lottery_dir(output_dir, level), 'masks.npz')['hidden1'])
    initial = _load(run_dir, 'initial.npz')['hidden1/kernel']
    survivors = masks['hidden1'] == 1
    assert not np.array_equal(initial[survivors], theta0[survivors])
    if mode == 'sample_original_signs':
      np.testing.assert_array_equal(np.sign(initial[survivors]), np.sign(theta0[survivors]))
    assert _summary(run_dir)['reinit_mode'] == mode


def test_random_prune_keeps_counts_and_theta0(lottery_output, idx_dataset):
  output_dir, _ = lottery_output
  process = conftest.run_module('mnist_fc.runners.random_prune', '--level=2',
                                *conftest.small_run_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  ticket = _load(_lottery_dir(output_dir, 2), 'masks.npz')
  random = _load(_lottery_dir(output_dir, 2, 'random_prune'), 'masks.npz')
  for name in ticket:
    assert ticket[name].sum() == random[name].sum()
    assert not np.array_equal(ticket[name], random[name])


def test_train_from_saved_masks_and_presets(lottery_output, idx_dataset):
  output_dir, _ = lottery_output
  level2 = _lottery_dir(output_dir, 2)
  process = conftest.run_module('mnist_fc.runners.train', f'--masks={level2}',
                                f'--presets={level2}/initial.npz',
                                *conftest.small_run_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  train_dir = os.path.join(output_dir, 'trial1', 'train')
  np.testing.assert_array_equal(_load(train_dir, 'final.npz')['output/kernel'],
                                _load(level2, 'final.npz')['output/kernel'])  # same run again
