"""Dataset registry: name -> where its files may be found and how to read them.

`load` looks, in order, at --dataset_path, the dataset's usual local places (e.g. a Debian
dataset package), a prepared tensorflow-datasets copy, and finally downloads through tfds.
Images stay uint8 in [0, 255]; networks scale them to [0, 1] in their first layer (x / 255),
as the original code did. 5,000 training examples are held out as validation with a seed.
"""

import dataclasses
import os
from typing import Callable, Tuple

import numpy as np

from foundations import errors
from lottery_ticket.datasets import cifar
from lottery_ticket.datasets import idx
from lottery_ticket.datasets import tfds_source


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  tfds_name: str
  download_url: str  # tfds's source, checked for reachability before a download
  local_format: Callable  # (directory, split) -> (images, labels); raises UserInputError
  has_local_files: Callable  # directory -> bool
  local_dirs: Tuple[str, ...] = ()  # searched when --dataset_path is not given


DATASETS = {
    'mnist': DatasetSpec('mnist', 'https://storage.googleapis.com/cvdf-datasets/mnist/', idx.load_split, idx.has_files),
    'fashion_mnist': DatasetSpec(
        'fashion_mnist', 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
        idx.load_split, idx.has_files, local_dirs=('/usr/share/datasets/fashion-mnist',)),
    'cifar10': DatasetSpec(
        'cifar10', 'https://www.cs.toronto.edu/~kriz/', cifar.load_split, cifar.has_files),
}


@dataclasses.dataclass
class Dataset:
  """Train / validation / test splits as (uint8 images [N, H, W, C], int labels [N])."""
  name: str
  train: tuple
  validation: tuple
  test: tuple
  source: str  # where the examples came from, for the run summary

  @property
  def input_shape(self):
    return self.train[0].shape[1:]

  @property
  def num_classes(self):
    return int(max(self.train[1].max(), self.test[1].max())) + 1


def get(name):
  if name not in DATASETS:
    raise errors.UserInputError(
        f'--dataset={name}: unknown dataset; expected one of {sorted(DATASETS)}')
  return DATASETS[name]


def _load_splits(name, spec, dataset_path):
  """({'train': ..., 'test': ...}, source description)."""
  if dataset_path:
    if not os.path.isdir(dataset_path):
      raise errors.UserInputError(f'--dataset_path={dataset_path}: no such directory')
    return {s: spec.local_format(dataset_path, s) for s in ('train', 'test')}, dataset_path
  for directory in spec.local_dirs:
    if os.path.isdir(directory) and spec.has_local_files(directory):
      return {s: spec.local_format(directory, s) for s in ('train', 'test')}, directory
  splits = tfds_source.load(spec.tfds_name, spec.download_url)  # downloads if not prepared
  return splits, f'tensorflow_datasets:{spec.tfds_name}'


def split_validation(train, validation_size, seed):
  """Holds out `validation_size` random training examples (seeded) as the validation split."""
  images, labels = train
  if not 0 < validation_size < len(labels):
    raise errors.UserInputError(
        f'--validation_size={validation_size}: expected between 1 and {len(labels) - 1} '
        f'(the training split has {len(labels)} examples)')
  order = np.random.default_rng(seed).permutation(len(labels))
  held_out, kept = order[:validation_size], order[validation_size:]
  return (images[kept], labels[kept]), (images[held_out], labels[held_out])


def load(name, dataset_path=None, validation_size=5000, seed=0):
  """Loads dataset `name` and splits off the validation set; see the module docstring."""
  spec = get(name)
  splits, source = _load_splits(name, spec, dataset_path)
  train, validation = split_validation(splits['train'], validation_size, seed)
  return Dataset(name=name, train=train, validation=validation, test=splits['test'],
                 source=source)
