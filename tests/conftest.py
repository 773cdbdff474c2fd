"""Shared fixtures: small generated datasets in the real file formats, and a runner launcher."""

import os
import subprocess
import sys

import pytest

from lottery_ticket.datasets import synthetic

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The generators are library code (lottery_ticket.datasets.synthetic): the benchmarks use them too.
make_idx_dataset = synthetic.make_idx_dataset
make_cifar_dataset = synthetic.make_cifar_dataset


@pytest.fixture(scope='session')
def idx_dataset(tmp_path_factory):
  return str(make_idx_dataset(str(tmp_path_factory.mktemp('idx'))))


def run_module(module, *args, timeout=600, env=None):
  """Runs `python -m module args` from the repository root; returns the CompletedProcess."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=REPO_ROOT, **(env or {}))
  return subprocess.run([sys.executable, '-m', module, *args], cwd=REPO_ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)


def small_run_flags(dataset_path, output_dir, iterations=60):
  return [f'--dataset_path={dataset_path}', f'--output_dir={output_dir}',
          f'--training_iterations={iterations}', '--eval_interval=20', '--validation_size=100',
          '--batch_size=20']


@pytest.fixture(scope='session')
def lenet_ticket(idx_dataset, tmp_path_factory):
  """An experiment directory with lottery levels 0-3 of LeNet (level 3: 51.3% remaining)."""
  out = str(tmp_path_factory.mktemp('lenet_ticket'))
  process = run_module('mnist_fc.runners.lottery_experiment', '--levels=3',
                       *small_run_flags(idx_dataset, out))
  assert process.returncode == 0, process.stderr[-3000:]
  return out


@pytest.fixture(scope='session')
def cifar_dataset(tmp_path_factory):
  return make_cifar_dataset(str(tmp_path_factory.mktemp('cifar')))


def read_summary(run_dir):
  import json  # pylint: disable=g-import-not-at-top
  with open(os.path.join(run_dir, 'summary.json')) as f:
    return json.load(f)
