import dataclasses
import os

import numpy as np
import pytest

from foundations import errors
from lottery_ticket import datasets
from lottery_ticket.datasets import idx
from lottery_ticket.datasets import tfds_source
from tests import conftest


def test_loads_idx_files_and_holds_out_validation(idx_dataset):
  data = datasets.load('mnist', idx_dataset, validation_size=50, seed=0)
  assert data.train[0].shape == (350, 28, 28, 1) and data.train[0].dtype == np.uint8
  assert data.validation[0].shape == (50, 28, 28, 1)
  assert data.test[0].shape == (100, 28, 28, 1)
  assert data.input_shape == (28, 28, 1) and data.num_classes == 10
  other = datasets.load('mnist', idx_dataset, validation_size=50, seed=1)
  assert not np.array_equal(data.validation[1], other.validation[1])
  again = datasets.load('mnist', idx_dataset, validation_size=50, seed=0)
  np.testing.assert_array_equal(data.validation[0], again.validation[0])


def test_reads_uncompressed_files(tmp_path):
  conftest.make_idx_dataset(str(tmp_path), 20, 10, gz=False)
  images, labels = idx.load_split(str(tmp_path), 'test')
  assert images.shape == (10, 28, 28, 1) and labels.shape == (10,)


@pytest.fixture
def idx_copy(tmp_path):
  return conftest.make_idx_dataset(str(tmp_path), 20, 10, gz=False)


def test_missing_file(idx_copy):
  os.remove(os.path.join(idx_copy, 't10k-labels-idx1-ubyte'))
  with pytest.raises(errors.UserInputError, match='missing IDX file t10k-labels'):
    datasets.load('mnist', idx_copy, validation_size=5)


def test_truncated_file(idx_copy):
  path = os.path.join(idx_copy, 'train-images-idx3-ubyte')
  with open(path, 'r+b') as f:
    f.truncate(1000)
  with pytest.raises(errors.UserInputError, match='train-images-idx3-ubyte.*truncated'):
    datasets.load('mnist', idx_copy, validation_size=5)


def test_wrong_magic(idx_copy):
  path = os.path.join(idx_copy, 'train-labels-idx1-ubyte')
  with open(path, 'r+b') as f:
    f.write(b'PK\x03\x04')
  with pytest.raises(errors.UserInputError, match='wrong magic'):
    datasets.load('mnist', idx_copy, validation_size=5)


def test_unknown_dataset_and_bad_path(tmp_path):
  with pytest.raises(errors.UserInputError, match='--dataset=imagenet: unknown'):
    datasets.load('imagenet')
  with pytest.raises(errors.UserInputError, match='--dataset_path=.*no such directory'):
    datasets.load('mnist', str(tmp_path / 'absent'))


def test_validation_size_checked(idx_dataset):
  with pytest.raises(errors.UserInputError, match='--validation_size=400'):
    datasets.load('mnist', idx_dataset, validation_size=400)


def test_unreachable_download_fails_fast_naming_dataset_path(tmp_path, monkeypatch):
  import time
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
  monkeypatch.setitem(datasets.DATASETS, 'mnist', dataclasses.replace(
      datasets.DATASETS['mnist'], download_url='https://127.0.0.1:9/'))
  monkeypatch.setattr(tfds_source.console, 'import_tensorflow', None)  # tfds not even imported
  start = time.monotonic()
  with pytest.raises(errors.UserInputError, match='--dataset_path') as raised:
    datasets.load('mnist')
  assert time.monotonic() - start < 30
  message = str(raised.value)  # one line that lists every way to get the data
  assert message.startswith('--dataset=mnist: not found here and cannot download it from '
                            '127.0.0.1') and '\n' not in message
  for way in ('--dataset=fashion_mnist_sample', '--dataset_path=DIR with train-images-idx3-ubyte',
              f'tensorflow-datasets with internet (downloads mnist into {tmp_path})'):
    assert way in message
  assert 'apt-get install dataset-fashion-mnist (found in /usr/share/datasets/fashion-mnist)' in (
      datasets.ways_to_get('fashion_mnist'))


def test_tensorflow_datasets_path_with_mock_data(tmp_path, monkeypatch):
  import tensorflow_datasets as tfds
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
  monkeypatch.setattr(tfds_source, 'check_download_possible', lambda *args: None)
  with tfds.testing.mock_data(num_examples=60):
    data = datasets.load('mnist', validation_size=10, seed=0)
  assert data.train[0].shape == (50, 28, 28, 1) and data.train[0].dtype == np.uint8
  assert data.test[0].shape == (60, 28, 28, 1)
  assert data.source == 'tensorflow_datasets:mnist'
