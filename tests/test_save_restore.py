import os

import numpy as np
import pytest

from foundations import errors
from foundations import save_restore


def test_round_trip(tmp_path):
  arrays = {'hidden1/kernel': np.arange(6.0).reshape(2, 3), 'output': np.ones(4, np.float32)}
  path = str(tmp_path / 'a.npz')
  save_restore.save_arrays(path, arrays)
  loaded = save_restore.load_arrays(path)
  assert set(loaded) == set(arrays)
  for key, value in arrays.items():
    np.testing.assert_array_equal(loaded[key], value)
    assert loaded[key].dtype == value.dtype
  umask = os.umask(0)
  os.umask(umask)
  assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path):
  path = str(tmp_path / 'a.npz')
  save_restore.save_arrays(path, {'x': np.zeros(3)})
  with pytest.raises(RuntimeError):
    with save_restore.atomic_path(path) as tmp:
      with open(tmp, 'w') as f:
        f.write('half')
      raise RuntimeError('killed mid-write')
  np.testing.assert_array_equal(save_restore.load_arrays(path)['x'], np.zeros(3))
  assert os.listdir(tmp_path) == ['a.npz']


def test_truncated_file_is_a_one_line_error_naming_it(tmp_path):
  path = str(tmp_path / 'masks.npz')
  save_restore.save_arrays(path, {'x': np.zeros(1000)})
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)
  with pytest.raises(errors.UserInputError, match='masks.npz') as e:
    save_restore.load_arrays(path)
  assert '\n' not in str(e.value)


def test_missing_file(tmp_path):
  with pytest.raises(errors.UserInputError, match='not found'):
    save_restore.load_arrays(str(tmp_path / 'nope.npz'))
