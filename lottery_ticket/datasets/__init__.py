"""Dataset registry: name -> where its files may be found and how to read them.

`load` looks, in order, at --dataset_path, the dataset's usual local places (e.g. a Debian
dataset package, or the package itself for the bundled `fashion_mnist_sample`), a prepared
tensorflow-datasets copy, and finally downloads through tfds. When none works, one error lists
every way to get the data.
Images stay uint8 in [0, 255]; networks scale them to [0, 1] in their first layer (x / 255),
as the original code did. 5,000 training examples are held out as validation with a seed.
"""

import dataclasses
import os
from typing import Callable, Optional, Tuple

import numpy as np

from foundations import errors
from lottery_ticket.datasets import cifar
from lottery_ticket.datasets import idx
from lottery_ticket.datasets import sample
from lottery_ticket.datasets import tfds_source


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  tfds_name: Optional[str]  # None: not in tensorflow-datasets
  download_url: Optional[str]  # tfds's source, checked for reachability before a download
  local_format: Callable  # (directory, split) -> (images, labels); raises UserInputError
  has_local_files: Callable  # directory -> bool
  local_dirs: Tuple[str, ...] = ()  # searched when --dataset_path is not given
  expected_files: str = ''  # what --dataset_path must hold, in words
  debian_package: Optional[str] = None  # installs into local_dirs[0]
  validation_size: int = 5000  # --validation_size's default for this dataset


_IDX_FILES = ('train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and '
              't10k-labels-idx1-ubyte (or .gz)')
DATASETS = {
    'mnist': DatasetSpec('mnist', 'https://storage.googleapis.com/cvdf-datasets/mnist/',
                         idx.load_split, idx.has_files, expected_files=_IDX_FILES),
    'fashion_mnist': DatasetSpec(
        'fashion_mnist', 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
        idx.load_split, idx.has_files, local_dirs=('/usr/share/datasets/fashion-mnist',),
        expected_files=_IDX_FILES, debian_package='dataset-fashion-mnist'),
    'fashion_mnist_sample': DatasetSpec(
        None, None, idx.load_split, idx.has_files, local_dirs=(sample.DIRECTORY,),
        expected_files=_IDX_FILES, validation_size=sample.VALIDATION_SIZE),
    'cifar10': DatasetSpec(
        'cifar10', 'https://www.cs.toronto.edu/~kriz/', cifar.load_split, cifar.has_files,
        expected_files='data_batch_1..5 and test_batch (the python version, cifar-10-batches-py)'),
}
BUNDLED = 'fashion_mnist_sample'  # ships with the package: works offline, anywhere


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
    if os.path.isfile(dataset_path):
      raise errors.UserInputError(
          f'--dataset_path={dataset_path}: is a file, expected a directory with '
          f'{spec.expected_files}')
    if not os.path.isdir(dataset_path):
      raise errors.UserInputError(f'--dataset_path={dataset_path}: no such directory')
    return {s: spec.local_format(dataset_path, s) for s in ('train', 'test')}, dataset_path
  for directory in spec.local_dirs:
    if os.path.isdir(directory) and spec.has_local_files(directory):
      return {s: spec.local_format(directory, s) for s in ('train', 'test')}, directory
  if spec.tfds_name is None:
    raise errors.UserInputError(f'--dataset={name}: {spec.local_dirs[0]} is missing; '
                                'reinstall the package')
  try:
    splits = tfds_source.load(spec.tfds_name, spec.download_url)  # downloads if not prepared
  except tfds_source.DownloadImpossible as e:
    raise errors.UserInputError(f'--dataset={name}: not found here and {e}; '
                                + ways_to_get(name)) from None
  return splits, f'tensorflow_datasets:{spec.tfds_name}'


def ways_to_get(name):
  """Every way to get dataset `name`, in one sentence."""
  spec = get(name)
  ways = [f'--dataset={BUNDLED} (a sample of Fashion-MNIST that ships with the package)',
          f'--dataset_path=DIR with {spec.expected_files}']
  if spec.debian_package:
    ways.append(f'apt-get install {spec.debian_package} (found in {spec.local_dirs[0]})')
  ways.append(f'tensorflow-datasets with internet (downloads {spec.tfds_name} into '
              f'{tfds_source.default_data_dir()})')
  return 'to get it use ' + '; or '.join(ways)


def default_validation_size(name):
  """--validation_size's default for dataset `name`."""
  return get(name).validation_size


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
