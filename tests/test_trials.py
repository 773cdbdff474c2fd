"""--trials: several trials in one process, reusing the compiled trainer, bit for bit what
separate --trial processes give; and --control_trials' seeds and directories."""

import dataclasses
import glob
import os
import shutil

import numpy as np
import pytest

from lottery_ticket import config as config_lib
from tests import conftest
from tests import runs

RUNNER = 'mnist_fc.runners.lottery_experiment'


def _flags(idx_dataset, output_dir):
  return conftest.small_run_flags(idx_dataset, output_dir, iterations=40) + ['--levels=1']


def test_trials_in_one_process_equal_separate_processes(idx_dataset, tmp_path):
  together, apart = str(tmp_path / 'together'), str(tmp_path / 'apart')
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, together), '--trials=1-2')
  assert process.returncode == 0, process.stderr[-3000:]
  for trial in (1, 2):
    process = conftest.run_module(RUNNER, *_flags(idx_dataset, apart), f'--trial={trial}')
    assert process.returncode == 0, process.stderr[-3000:]
  runs.assert_same_results(apart, together)
  assert not glob.glob(os.path.join(together, '**', '.*.claim'), recursive=True)


def _config(dataset_path, output_dir, **changes):
  return config_lib.ExperimentConfig(
      protocol='train', network='lenet300_100', dataset='mnist', dataset_path=dataset_path,
      output_dir=output_dir, training_iterations=20, batch_size=20, learning_rate=1.2e-3,
      eval_interval=10, validation_size=100, progress_seconds=1e9, **changes)


def test_reconfigured_trainer_is_not_retraced(idx_dataset, tmp_path):
  from lottery_ticket import experiment as experiment_lib  # pylint: disable=g-import-not-at-top
  from lottery_ticket import preflight  # pylint: disable=g-import-not-at-top
  from lottery_ticket.protocols import lottery as protocols  # pylint: disable=g-import-not-at-top
  from mnist_fc import constants  # pylint: disable=g-import-not-at-top
  config = _config(idx_dataset, str(tmp_path))
  built = experiment_lib.Experiment(config, constants.LENET)
  protocols.train_one_run(built)
  traces = built.trainer.traces
  second = dataclasses.replace(config, trial=2)
  dataset = preflight.prepare(second)
  assert not np.array_equal(dataset.validation[1], built.dataset.validation[1])
  assert built.reconfigure(second, dataset) is built
  protocols.train_one_run(built)
  assert built.trainer.traces == traces
  assert conftest.read_summary(os.path.join(str(tmp_path), 'trial2', 'train'))['trial'] == 2


def test_reconfigured_dropout_and_augmentation_seeds_match_a_new_process(tmp_path):
  from cifar_conv import constants  # pylint: disable=g-import-not-at-top
  from lottery_ticket import experiment as experiment_lib  # pylint: disable=g-import-not-at-top
  from lottery_ticket import preflight  # pylint: disable=g-import-not-at-top
  dataset_path = conftest.make_cifar_dataset(str(tmp_path / 'cifar'))
  config = dataclasses.replace(
      _config(dataset_path, str(tmp_path / 'out')), network='conv2', dataset='cifar10',
      dropout=True, augment=True, validation_size=20)
  spec = constants.NETWORKS['conv2']
  second = dataclasses.replace(config, trial=2)
  fresh = experiment_lib.Experiment(second, spec).trainer
  reused = experiment_lib.Experiment(config, spec)
  first_states = [s.copy() for s in reused.trainer._initial_random_states]
  reused = reused.reconfigure(second, preflight.prepare(second))
  trainer = reused.trainer
  assert trainer._initial_random_states  # pylint: disable=protected-access
  for expected, actual, before in zip(fresh._initial_random_states,  # pylint: disable=protected-access
                                      trainer._initial_random_states, first_states):
    np.testing.assert_array_equal(actual, expected)
    assert not np.array_equal(actual, before)
  assert trainer._default_augment_seed == fresh._default_augment_seed  # pylint: disable=protected-access


@pytest.mark.slow  # ~14 s on 2 cores
def test_control_trials_have_their_own_seeds_and_directories_and_are_aggregated(
    lenet_ticket, idx_dataset, tmp_path):
  from lottery_ticket.analysis import load  # pylint: disable=g-import-not-at-top
  from lottery_ticket.analysis import summary  # pylint: disable=g-import-not-at-top
  output_dir = str(tmp_path / 'controls')
  shutil.copytree(lenet_ticket, output_dir)
  for runner in ('reinitialize', 'random_prune'):
    process = conftest.run_module(f'mnist_fc.runners.{runner}', '--level=3',
                                  '--control_trials=2', *conftest.small_run_flags(
                                      idx_dataset, output_dir))
    assert process.returncode == 0, process.stderr[-3000:]
  level3 = os.path.join(output_dir, 'trial1', 'level3')
  for name, array in (('reinit', 'initial.npz'), ('random_prune', 'masks.npz')):
    first, second = (os.path.join(level3, d) for d in (name, f'{name}_control2'))
    assert 'control_trial' not in conftest.read_summary(first)  # as before --control_trials
    assert conftest.read_summary(second)['control_trial'] == 2
    with np.load(os.path.join(first, array)) as a, np.load(os.path.join(second, array)) as b:
      assert not np.array_equal(a['hidden1' if name == 'random_prune' else 'hidden1/kernel'],
                                b['hidden1' if name == 'random_prune' else 'hidden1/kernel'])
  table = summary.summarize(load.load_experiment(output_dir))
  for kind in ('reinit', 'random_prune'):
    row = table[table['kind'] == kind].iloc[0]
    assert (row['trials'], row['runs']) == (1, 2)
  bad = conftest.run_module('mnist_fc.runners.reinitialize', '--level=3', '--control_trials=0',
                            *conftest.small_run_flags(idx_dataset, output_dir))
  assert bad.returncode == 2 and bad.stderr.startswith('error: --control_trials=0')
