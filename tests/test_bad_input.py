"""User mistakes end with one clear line, before training, leaving no output directory."""

import os

import numpy as np
import pytest

from foundations import save_restore
from tests import conftest


def _run_failing(module, output_dir, *flags):
  process = conftest.run_module(module, f'--output_dir={output_dir}', *flags)
  assert process.returncode != 0
  lines = [line for line in process.stderr.splitlines()
           if line.startswith(('error:', 'FATAL Flags parsing error'))]
  assert len(lines) == 1, process.stderr
  assert 'Traceback' not in process.stderr
  assert not os.path.exists(output_dir)
  return lines[0]


@pytest.fixture
def output_dir(tmp_path):
  return str(tmp_path / 'out')


@pytest.mark.parametrize('flags, message', [
    (['--dataset=imagenet'], '--dataset=imagenet: unknown dataset'),
    (['--network=resnet'], 'flag --network=resnet'),
    (['--levels=-1'], '--levels=-1: expected an integer >= 0'),
    (['--training_iterations=0'], '--training_iterations=0'),
    (['--dataset_path=/nonexistent'], '--dataset_path=/nonexistent: no such directory'),
])
def test_lottery_flag_errors(output_dir, idx_dataset, flags, message):
  args = [f'--dataset_path={idx_dataset}', '--validation_size=100'] + flags
  assert message in _run_failing('mnist_fc.runners.lottery_experiment', output_dir, *args)


@pytest.mark.parametrize('percent', ['0', '150', 'abc'])
def test_percent_remaining_range(output_dir, idx_dataset, percent):
  line = _run_failing('mnist_fc.runners.one_shot', output_dir, f'--dataset_path={idx_dataset}',
                      '--validation_size=100', f'--percent_remaining={percent}')
  assert f'--percent_remaining={percent}' in line


def test_truncated_idx_file(output_dir, tmp_path):
  data_dir = conftest.make_idx_dataset(str(tmp_path / 'data'), 50, 20, gz=False)
  path = os.path.join(data_dir, 't10k-images-idx3-ubyte')
  with open(path, 'r+b') as f:
    f.truncate(500)
  line = _run_failing('mnist_fc.runners.train', output_dir, f'--dataset_path={data_dir}',
                      '--validation_size=10')
  assert 't10k-images-idx3-ubyte' in line and 'truncated' in line


def test_unwritable_output_dir(idx_dataset, tmp_path):
  blocker = tmp_path / 'a_file'
  blocker.write_text('not a directory')
  line = _run_failing('mnist_fc.runners.train', str(blocker / 'out'),
                      f'--dataset_path={idx_dataset}', '--validation_size=100')
  assert '--output_dir' in line and 'not writable' in line


def _lenet_masks():
  return {'hidden1': np.ones((784, 300)), 'hidden2': np.ones((300, 100)),
          'output': np.ones((100, 10))}


@pytest.mark.parametrize('change, message', [
    (lambda m: m.pop('output'), "missing ['output']"),
    (lambda m: m.update(hidden2=np.ones((300, 99))), 'hidden2 has shape (300, 99)'),
    (lambda m: m.update(output=np.full((100, 10), 0.5)), 'values other than 0 and 1'),
])
def test_bad_masks(output_dir, idx_dataset, tmp_path, change, message):
  masks = _lenet_masks()
  change(masks)
  path = str(tmp_path / 'masks.npz')
  save_restore.save_arrays(path, masks)
  line = _run_failing('mnist_fc.runners.train', output_dir, f'--dataset_path={idx_dataset}',
                      '--validation_size=100', f'--masks={path}')
  assert path in line and message in line


def test_controls_need_the_lottery_level(output_dir, idx_dataset):
  line = _run_failing('mnist_fc.runners.reinitialize', output_dir,
                      f'--dataset_path={idx_dataset}', '--validation_size=100', '--level=4')
  assert '--level=4' in line and 'run the lottery experiment' in line
