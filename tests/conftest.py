"""Shared fixtures: small generated datasets in the real file formats, and a runner launcher."""

import gzip
import os
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_idx(path, array):
  """Writes a uint8 array as an IDX file (gzipped if path ends with .gz)."""
  header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, '>u4').tobytes()
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'wb') as f:
    f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def make_idx_dataset(directory, train_size=400, test_size=100, seed=0, gz=True):
  """A learnable MNIST-format dataset: class c has brighter pixels in row band c."""
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  suffix = '.gz' if gz else ''
  for split, size in (('train', train_size), ('t10k', test_size)):
    labels = rng.integers(0, 10, size).astype(np.uint8)
    images = rng.integers(0, 100, (size, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
      images[i, 2 * label:2 * label + 3, :] += 150
    write_idx(os.path.join(directory, f'{split}-images-idx3-ubyte{suffix}'), images)
    write_idx(os.path.join(directory, f'{split}-labels-idx1-ubyte{suffix}'), labels)
  return directory


@pytest.fixture(scope='session')
def idx_dataset(tmp_path_factory):
  return str(make_idx_dataset(str(tmp_path_factory.mktemp('idx'))))


def run_module(module, *args, timeout=600):
  """Runs `python -m module args` from the repository root; returns the CompletedProcess."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=REPO_ROOT)
  return subprocess.run([sys.executable, '-m', module, *args], cwd=REPO_ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)


def small_run_flags(dataset_path, output_dir, iterations=60):
  return [f'--dataset_path={dataset_path}', f'--output_dir={output_dir}',
          f'--training_iterations={iterations}', '--eval_interval=20', '--validation_size=100',
          '--batch_size=20']


def make_cifar_dataset(directory, per_batch=40, test_size=40, seed=0):
  """CIFAR-10 python-version batch files; class c brightens a band of rows in one channel."""
  import pickle  # pylint: disable=g-import-not-at-top
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
  for name in names:
    size = test_size if name == 'test_batch' else per_batch
    labels = rng.integers(0, 10, size)
    images = rng.integers(0, 100, (size, 3, 32, 32)).astype(np.uint8)
    for i, label in enumerate(labels):
      images[i, label % 3, 3 * label:3 * label + 3, :] += 150
    with open(os.path.join(directory, name), 'wb') as f:
      pickle.dump({b'data': images.reshape(size, -1), b'labels': labels.tolist()}, f)
  return directory


@pytest.fixture(scope='session')
def cifar_dataset(tmp_path_factory):
  return make_cifar_dataset(str(tmp_path_factory.mktemp('cifar')))


def read_summary(run_dir):
  import json  # pylint: disable=g-import-not-at-top
  with open(os.path.join(run_dir, 'summary.json')) as f:
    return json.load(f)
