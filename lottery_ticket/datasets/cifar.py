"""Reading the CIFAR-10 "python version" batch files, checked against the format.

The directory (usually cifar-10-batches-py) holds data_batch_1..5 and test_batch, each a
pickled dict with b'data' (N x 3072 uint8, channel-major 32x32 planes) and b'labels'.
"""

import os
import pickle

import numpy as np

from foundations import errors

SPLIT_FILES = {
    'train': tuple(f'data_batch_{i}' for i in range(1, 6)),
    'test': ('test_batch',),
}
_PIXELS = 32 * 32 * 3


def read_batch(path):
  """(images [N, 32, 32, 3] uint8, labels [N] uint8) from one batch file."""
  if not os.path.isfile(path):
    raise errors.UserInputError(f'--dataset_path: missing CIFAR-10 batch file {path}')
  try:
    with open(path, 'rb') as f:
      batch = pickle.load(f, encoding='bytes')
  except Exception as e:  # pickle raises many types on truncated or foreign files
    raise errors.UserInputError(
        f'{path}: not a CIFAR-10 python batch file ({type(e).__name__}: {e})') from None
  if not isinstance(batch, dict) or b'data' not in batch or b'labels' not in batch:
    raise errors.UserInputError(f'{path}: not a CIFAR-10 python batch (no data/labels entries)')
  data = np.asarray(batch[b'data'])
  labels = np.asarray(batch[b'labels'])
  if data.ndim != 2 or data.shape[1] != _PIXELS or data.dtype != np.uint8 or len(labels) != len(
      data):
    raise errors.UserInputError(
        f'{path}: expected uint8 data of shape (N, {_PIXELS}) and N labels, got data '
        f'{data.shape} {data.dtype} and {len(labels)} labels')
  return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8)


def _batch_dir(directory):
  """The directory itself, or its cifar-10-batches-py subdirectory if that is where files are."""
  nested = os.path.join(directory, 'cifar-10-batches-py')
  return nested if os.path.isdir(nested) else directory


def has_files(directory):
  return os.path.isfile(os.path.join(_batch_dir(directory), SPLIT_FILES['test'][0]))


def load_split(directory, split):
  """(images [N, 32, 32, 3] uint8, labels [N] uint8) of 'train' or 'test'."""
  batches = [read_batch(os.path.join(_batch_dir(directory), name)) for name in SPLIT_FILES[split]]
  return (np.concatenate([images for images, _ in batches]),
          np.concatenate([labels for _, labels in batches]))
