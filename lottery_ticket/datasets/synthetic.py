"""Small generated datasets in the real file formats, for tests, benchmarks and offline trials.

Each class brightens its own band of rows, so a network learns them within a few hundred
iterations. The files are read by the same loaders as the real datasets (--dataset_path=DIR).
"""

import os
import pickle

import numpy as np

from lottery_ticket.datasets import cifar
from lottery_ticket.datasets import idx


def make_idx_dataset(directory, train_size=400, test_size=100, seed=0, gz=True):
  """Writes MNIST-format IDX files (28x28, 10 classes) into `directory`; returns `directory`."""
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  suffix = '.gz' if gz else ''
  for split, size in (('train', train_size), ('test', test_size)):
    labels = rng.integers(0, 10, size).astype(np.uint8)
    images = rng.integers(0, 100, (size, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
      images[i, 2 * label:2 * label + 3, :] += 150
    image_name, label_name = idx.SPLIT_FILES[split]
    idx.write_idx(os.path.join(directory, image_name + suffix), images)
    idx.write_idx(os.path.join(directory, label_name + suffix), labels)
  return directory


def make_cifar_dataset(directory, per_batch=40, test_size=40, seed=0):
  """Writes CIFAR-10 python-version batch files (32x32x3) into `directory`; returns it."""
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  for name in cifar.SPLIT_FILES['train'] + cifar.SPLIT_FILES['test']:
    size = test_size if name in cifar.SPLIT_FILES['test'] else per_batch
    labels = rng.integers(0, 10, size)
    images = rng.integers(0, 100, (size, 3, 32, 32)).astype(np.uint8)
    for i, label in enumerate(labels):
      images[i, label % 3, 3 * label:3 * label + 3, :] += 150
    with open(os.path.join(directory, name), 'wb') as f:
      pickle.dump({b'data': images.reshape(size, -1), b'labels': labels.tolist()}, f)
  return directory
