"""Atomic writes of arrays, tables and JSON, and loads that name the file when it is bad.

Every write goes to a temporary file in the destination directory and is renamed into place,
so a reader (or a crashed run) sees either the old file, the whole new file, or nothing.
"""

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from foundations import errors


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path next to `path`; renames it onto `path` if the block succeeds."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp_path = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', dir=directory)
  os.close(fd)
  os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes files private; results are for sharing
  try:
    yield tmp_path
    os.replace(tmp_path, path)
  finally:
    if os.path.exists(tmp_path):
      os.remove(tmp_path)


def save_arrays(path, arrays):
  """Saves {key: array} as an .npz file (keys may contain '/')."""
  with atomic_path(path) as tmp_path:
    with open(tmp_path, 'wb') as f:
      np.savez(f, **{key: np.asarray(value) for key, value in arrays.items()})


def load_arrays(path):
  """Loads an .npz written by save_arrays; a missing or corrupt file is a UserInputError."""
  if not os.path.isfile(path):
    raise errors.UserInputError(f'{path}: file not found')
  try:
    with np.load(path, allow_pickle=False) as data:
      return {key: data[key] for key in data.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise errors.UserInputError(f'{path}: not a readable .npz array file ({e})') from None


def save_json(path, value):
  with atomic_path(path) as tmp_path:
    with open(tmp_path, 'w') as f:
      json.dump(value, f, indent=2, sort_keys=True)
      f.write('\n')


def load_json(path):
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    raise errors.UserInputError(f'{path}: file not found') from None
  except (OSError, ValueError) as e:
    raise errors.UserInputError(f'{path}: not a readable JSON file ({e})') from None


def load_json_object(path):
  """load_json for files that must hold a JSON object (a dict), e.g. summaries and settings."""
  value = load_json(path)
  if not isinstance(value, dict):
    raise errors.UserInputError(
        f'{path}: expected a JSON object, found a JSON {type(value).__name__}')
  return value


def save_text(path, text):
  with atomic_path(path) as tmp_path:
    with open(tmp_path, 'w') as f:
      f.write(text)


def save_bytes(path, data):
  with atomic_path(path) as tmp_path:
    with open(tmp_path, 'wb') as f:
      f.write(data)


def save_csv(path, dataframe):
  with atomic_path(path) as tmp_path:
    dataframe.to_csv(tmp_path, index=False)
