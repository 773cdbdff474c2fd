"""Conv-2/4/6: weight counts, the CIFAR-10 batch reader, and the runners end to end."""

import os

import numpy as np
import pytest

from cifar_conv import constants
from foundations import errors
from foundations import model_state
from lottery_ticket import datasets
from tests import conftest


@pytest.mark.parametrize('name, weights', [('conv2', 4_300_992), ('conv4', 2_425_024),
                                           ('conv6', 2_261_184)])
def test_weight_counts(name, weights):
  spec = constants.NETWORKS[name]
  model = spec.build((32, 32, 3), 10)
  shapes = model_state.expected_mask_shapes(model)
  assert sum(int(np.prod(s)) for s in shapes.values()) == weights
  assert set(spec.prune_rates) == set(shapes)


def test_dropout_only_in_training():
  model = constants.NETWORKS['conv2'].build((32, 32, 3), 10, dropout_rate=0.5)
  x = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3)).astype(np.uint8)
  np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
  assert not np.array_equal(model(x, training=True), model(x, training=True))


def test_reads_batches_and_holds_out_validation(cifar_dataset):
  data = datasets.load('cifar10', cifar_dataset, validation_size=20, seed=0)
  assert data.train[0].shape == (180, 32, 32, 3) and data.test[0].shape == (40, 32, 32, 3)
  assert data.input_shape == (32, 32, 3) and data.num_classes == 10


@pytest.mark.parametrize('damage, message', [
    ('remove', 'missing CIFAR-10 batch file'),
    ('truncate', 'not a CIFAR-10 python batch file'),
    ('foreign', 'not a CIFAR-10 python batch'),
])
def test_bad_batch_files(tmp_path, damage, message):
  directory = conftest.make_cifar_dataset(str(tmp_path), per_batch=4, test_size=4)
  path = os.path.join(directory, 'data_batch_3')
  if damage == 'remove':
    os.remove(path)
  elif damage == 'truncate':
    with open(path, 'r+b') as f:
      f.truncate(100)
  else:
    with open(path, 'wb') as f:
      f.write(b'\x00' * 64)
  with pytest.raises(errors.UserInputError, match=message) as e:
    datasets.load('cifar10', directory, validation_size=2)
  assert 'data_batch_3' in str(e.value)


def _flags(cifar_dataset, output_dir):
  return conftest.small_run_flags(cifar_dataset, output_dir, iterations=20)[:-2] + [
      '--validation_size=20', '--batch_size=10', '--network=conv2']


def test_conv2_lottery_and_one_shot_runners(cifar_dataset, tmp_path):
  output_dir = str(tmp_path / 'conv2')
  process = conftest.run_module('cifar_conv.runners.lottery_experiment', '--levels=2',
                                *_flags(cifar_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  for level, (conv, fc, output) in enumerate([(100, 100, 100), (90, 80, 90), (81, 64, 81)]):
    summary = conftest.read_summary(os.path.join(output_dir, 'trial1', f'level{level}', 'lottery'))
    layers = summary['layers']  # conv1 has 1,728 weights: rounding shows
    assert layers['conv1']['percent_remaining'] == pytest.approx(conv, abs=0.1)
    assert layers['conv2']['percent_remaining'] == pytest.approx(conv, abs=0.01)
    assert layers['fc1']['percent_remaining'] == pytest.approx(fc, abs=0.01)
    assert layers['fc2']['percent_remaining'] == pytest.approx(fc, abs=0.01)
    assert layers['output']['percent_remaining'] == pytest.approx(output, abs=0.1)
  process = conftest.run_module('cifar_conv.runners.one_shot', '--percent_remaining=20',
                                *_flags(cifar_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  summary = conftest.read_summary(os.path.join(output_dir, 'trial1', 'one_shot', 'remaining20'))
  assert summary['percent_remaining'] == pytest.approx(20, abs=0.01)
  layers = summary['layers']
  assert layers['conv1']['percent_remaining'] > layers['fc1']['percent_remaining']
  rounds = np.log(layers['fc1']['percent_remaining'] / 100) / np.log(0.8)
  assert np.log(layers['conv1']['percent_remaining'] / 100) / np.log(0.9) == pytest.approx(
      rounds, rel=0.01)


def test_conv_runner_on_mnist_format_data(idx_dataset, tmp_path):
  output_dir = str(tmp_path / 'conv4')
  process = conftest.run_module(
      'cifar_conv.runners.train', '--network=conv4', '--dataset=mnist', '--dropout',
      *conftest.small_run_flags(idx_dataset, output_dir, iterations=20))
  assert process.returncode == 0, process.stderr
  summary = conftest.read_summary(os.path.join(output_dir, 'trial1', 'train'))
  assert summary['network'] == 'conv4' and summary['dropout']
  assert summary['learning_rate'] == 2e-4  # the dropout variant's default


def test_corrupt_cifar_file_is_one_line_error(tmp_path):
  directory = conftest.make_cifar_dataset(str(tmp_path / 'data'), per_batch=4, test_size=4)
  with open(os.path.join(directory, 'test_batch'), 'r+b') as f:
    f.truncate(50)
  output_dir = str(tmp_path / 'out')
  process = conftest.run_module('cifar_conv.runners.one_shot', f'--dataset_path={directory}',
                                f'--output_dir={output_dir}', '--validation_size=2')
  assert process.returncode == 2
  assert process.stderr.strip().splitlines()[-1].startswith('error: ')
  assert 'test_batch' in process.stderr and 'Traceback' not in process.stderr
  assert not os.path.exists(output_dir)
