"""Every result file of an experiment directory, read for comparison: a rerun, a resumed run or a
--deterministic run on a GPU should reproduce the first run's bit for bit (timing aside)."""

import glob
import json
import os

import numpy as np
import pandas as pd

TIMING_KEYS = ('wall_seconds', 'steps_per_second')  # summary.json fields that vary run to run


def read(output_dir):
  """{path relative to output_dir: contents} of every result file of its trials: .npz as
  {key: array}, .json as a dict without TIMING_KEYS, .csv as a DataFrame."""
  contents = {}
  for path in glob.glob(os.path.join(output_dir, 'trial*', '**', '*.*'), recursive=True):
    name = os.path.relpath(path, output_dir)
    if path.endswith('.npz'):
      with np.load(path) as data:
        contents[name] = {k: data[k] for k in data.files}
    elif path.endswith('.json'):
      with open(path) as f:
        contents[name] = {k: v for k, v in json.load(f).items() if k not in TIMING_KEYS}
    elif path.endswith('.csv'):
      contents[name] = pd.read_csv(path)
  return contents


def _same_array(a, b):
  """Equal dtype, shape and bytes: bit for bit (NaNs included)."""
  return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _difference(name, expected, actual):
  """What differs between two readings of the file `name`, or None."""
  if isinstance(expected, pd.DataFrame):
    return None if expected.equals(actual) else f'{name}: values differ'
  if not name.endswith('.npz'):
    return None if expected == actual else f'{name}: fields differ'
  if sorted(expected) != sorted(actual):
    return f'{name}: holds {sorted(actual)}, expected {sorted(expected)}'
  keys = [key for key in expected if not _same_array(expected[key], actual[key])]
  return f'{name}: {", ".join(keys)} differ' if keys else None


def differences(expected_dir, actual_dir):
  """['file: what differs'] between the result files of two experiment directories; [] when
  every saved array, metric and summary field (but wall time) is equal, bit for bit."""
  expected, actual = read(expected_dir), read(actual_dir)
  found = [f'{name}: only in {expected_dir}' for name in sorted(set(expected) - set(actual))]
  found += [f'{name}: only in {actual_dir}' for name in sorted(set(actual) - set(expected))]
  for name in sorted(set(expected) & set(actual)):
    difference = _difference(name, expected[name], actual[name])
    if difference:
      found.append(difference)
  return found
