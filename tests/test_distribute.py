"""Data-parallel training (--distribute): equal to single-device training within float tolerance.

Logical CPU devices must be configured before TensorFlow initialises, so every run here is a
subprocess of a real entry point; the CPU is split into 2 logical devices (--cpu_devices=2).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from foundations import distribution
from foundations import errors
from foundations import save_restore
from tests import conftest
from tests import runs

RUNNER = 'mnist_fc.runners.train'
MIRRORED = ['--distribute=mirrored', '--cpu_devices=2']
RTOL, ATOL = 1e-4, 1e-5  # float32 sums in another order; 60 Adam steps amplify it a little


def _flags(idx_dataset, output_dir, *more):
  return conftest.small_run_flags(idx_dataset, output_dir) + [
      '--progress_seconds=0', *more]


def _train(idx_dataset, output_dir, *more, env=None):
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, output_dir, *more), env=env)
  assert process.returncode == 0, process.stderr[-3000:]
  return os.path.join(output_dir, 'trial1', 'train')


def _half_masks(tmp_path):
  rng = np.random.default_rng(0)
  shapes = {'hidden1': (784, 300), 'hidden2': (300, 100), 'output': (100, 10)}
  masks = {name: (rng.random(shape) < 0.5).astype(np.float32) for name, shape in shapes.items()}
  path = str(tmp_path / 'masks.npz')
  save_restore.save_arrays(path, masks)
  return path, masks


def _assert_close_runs(expected_dir, actual_dir):
  """Same arrays and metrics within float tolerance; masks and initial weights exactly."""
  for name in ('masks.npz', 'initial.npz'):
    expected = save_restore.load_arrays(os.path.join(expected_dir, name))
    actual = save_restore.load_arrays(os.path.join(actual_dir, name))
    for key, value in expected.items():
      np.testing.assert_array_equal(actual[key], value, err_msg=f'{name} {key}')
  expected = save_restore.load_arrays(os.path.join(expected_dir, 'final.npz'))
  actual = save_restore.load_arrays(os.path.join(actual_dir, 'final.npz'))
  assert sorted(actual) == sorted(expected)
  for key, value in expected.items():
    np.testing.assert_allclose(actual[key], value, rtol=RTOL, atol=ATOL, err_msg=key)
  expected = pd.read_csv(os.path.join(expected_dir, 'metrics.csv'))
  actual = pd.read_csv(os.path.join(actual_dir, 'metrics.csv'))
  pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=RTOL, atol=ATOL)


def _assert_pruned_exactly_zero(run_dir, masks):
  final = save_restore.load_arrays(os.path.join(run_dir, 'final.npz'))
  for name, mask in masks.items():
    assert np.all(final[f'{name}/kernel'][mask == 0] == 0), name
    assert np.any(final[f'{name}/kernel'][mask == 1] != 0), name


def test_mirrored_equals_single_device(idx_dataset, tmp_path):
  """Masks, weight decay, a learning-rate step and augmentation, on 2 logical CPUs."""
  masks_path, masks = _half_masks(tmp_path)
  more = [f'--masks={masks_path}', '--weight_decay=1e-3', '--lr_milestones=30', '--augment']
  single = _train(idx_dataset, str(tmp_path / 'single'), *more)
  mirrored = _train(idx_dataset, str(tmp_path / 'mirrored'), *more, *MIRRORED)
  _assert_close_runs(single, mirrored)
  _assert_pruned_exactly_zero(mirrored, masks)
  # The replicas really ran: the final weights differ in float rounding somewhere.
  final = [save_restore.load_arrays(os.path.join(d, 'final.npz')) for d in (single, mirrored)]
  assert any(np.any(final[0][k] != final[1][k]) for k in final[0])


@pytest.mark.slow  # three mirrored TensorFlow processes (~25 s on 2 cores)
def test_mirrored_resume_equals_an_uninterrupted_mirrored_run(idx_dataset, tmp_path):
  args = _flags(idx_dataset, str(tmp_path / 'resumed'), '--checkpoint_interval=20', *MIRRORED)
  runs.run_until(RUNNER, args, 'train] iteration 40/60')  # killed after the checkpoint at 40
  process = conftest.run_module(RUNNER, *args)
  assert process.returncode == 0, process.stderr[-3000:]
  assert 'resuming from the checkpoint' in process.stdout
  _train(idx_dataset, str(tmp_path / 'full'), *MIRRORED)
  runs.assert_same_results(str(tmp_path / 'full'), str(tmp_path / 'resumed'))


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('localhost', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _tf_config(ports, index):
  return json.dumps({'cluster': {'worker': [f'localhost:{p}' for p in ports]},
                     'task': {'type': 'worker', 'index': index}})


@pytest.mark.slow  # two TensorFlow processes (~16 s on 2 cores)
def test_single_worker_cluster_equals_single_device(idx_dataset, tmp_path):
  single = _train(idx_dataset, str(tmp_path / 'single'))
  worker = _train(idx_dataset, str(tmp_path / 'worker'), '--distribute=multi_worker',
                  env={'TF_CONFIG': _tf_config(_free_ports(1), 0)})
  _assert_close_runs(single, worker)


@pytest.mark.slow  # two TensorFlow processes in lockstep on 2 loaded cores
def test_two_worker_cluster_equals_single_device(idx_dataset, tmp_path):
  ports = _free_ports(2)
  out = str(tmp_path / 'cluster')
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=conftest.REPO_ROOT)
  processes = [subprocess.Popen(
      [sys.executable, '-m', RUNNER, *_flags(idx_dataset, out, '--distribute=multi_worker')],
      cwd=conftest.REPO_ROOT, env=dict(env, TF_CONFIG=_tf_config(ports, index)),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in (0, 1)]
  for process in processes:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
  single = _train(idx_dataset, str(tmp_path / 'single'))
  _assert_close_runs(single, os.path.join(out, 'trial1', 'train'))
  # The other worker wrote only into its own mirror, never the chief's files.
  assert sorted(os.listdir(out)) == ['.worker1', 'experiment.json', 'trial1']
  _assert_close_runs(single, os.path.join(out, '.worker1', 'trial1', 'train'))


@pytest.mark.parametrize('tf_config, message', [
    (None, 'TF_CONFIG is not set'),
    ('{"cluster": ', 'TF_CONFIG is not JSON'),
    ('{"cluster": {"ps": ["h:1"]}, "task": {"type": "ps", "index": 0}}', "cluster job 'ps'"),
    ('{"cluster": {"worker": ["nohostport"]}, "task": {"type": "worker", "index": 0}}',
     "cluster job 'worker'"),
    ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 1}}', '"task"'),
])
def test_bad_tf_config(tf_config, message):
  environ = {} if tf_config is None else {'TF_CONFIG': tf_config}
  with pytest.raises(errors.UserInputError, match=message):
    distribution.cluster_spec(environ)


def test_chief_and_worker_output_dirs():
  cluster = {'worker': ['h:1', 'h:2']}
  worker = {'TF_CONFIG': json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': 1}})}
  first = {'TF_CONFIG': json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': 0}})}
  assert distribution.worker_output_dir('out', 'multi_worker', first) == 'out'
  assert distribution.worker_output_dir('out', 'multi_worker', worker) == 'out/.worker1'
  assert distribution.worker_output_dir('out', 'none', worker) == 'out'
  with_chief = {'TF_CONFIG': json.dumps({'cluster': dict(cluster, chief=['h:3']),
                                         'task': {'type': 'worker', 'index': 0}})}
  assert not distribution.is_chief('multi_worker', with_chief)
