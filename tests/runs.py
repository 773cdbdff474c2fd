"""Runner processes for the reliability tests: signal a run mid-way, compare result files; and a
checkpoint policy that keeps one mid-run state."""

import glob
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd

from tests import conftest

TIMING_KEYS = ('wall_seconds', 'steps_per_second')


def start(module, args, stderr=subprocess.DEVNULL):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=conftest.REPO_ROOT)
  return subprocess.Popen([sys.executable, '-m', module, *args], cwd=conftest.REPO_ROOT,
                          env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)


def signal_when(module, args, marker, signal_number):
  """Starts the runner, sends it `signal_number` once it prints a line containing `marker`.

  Returns:
    (exit status, stdout, stderr) of the runner.
  """
  process = start(module, args, stderr=subprocess.PIPE)
  output = []
  for line in process.stdout:
    output.append(line)
    if marker in line:
      process.send_signal(signal_number)
      break
  rest, stderr = process.communicate(timeout=120)
  return process.returncode, ''.join(output) + rest, stderr


def run_until(module, args, marker):
  """Starts the runner and SIGKILLs it as soon as it prints a line containing `marker`."""
  returncode, stdout, _ = signal_when(module, args, marker, signal.SIGKILL)
  assert returncode == -signal.SIGKILL, stdout
  return stdout


def run_files(output_dir):
  """{relative path: contents} of every result file, timing fields removed from summaries."""
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


def assert_same_results(expected_dir, actual_dir):
  """Every saved array, metric and summary field (but wall time) is equal, bit for bit."""
  expected, actual = run_files(expected_dir), run_files(actual_dir)
  assert sorted(actual) == sorted(expected)
  for name, value in expected.items():
    if isinstance(value, dict) and name.endswith('.npz'):
      assert sorted(actual[name]) == sorted(value)
      for key in value:
        np.testing.assert_array_equal(actual[name][key], value[key], err_msg=f'{name} {key}')
    elif isinstance(value, pd.DataFrame):
      pd.testing.assert_frame_equal(actual[name], value, check_exact=True)
    else:
      assert actual[name] == value, name
  assert not glob.glob(os.path.join(actual_dir, 'trial1', '*', '.*'))  # no partial runs left


class SaveAt:
  """A checkpoint policy (Trainer.train's `checkpoint`) that keeps the state at one iteration."""

  def __init__(self, iteration):
    self.iteration, self.states = iteration, []

  def due(self, iteration, elapsed_seconds):
    del elapsed_seconds
    return iteration == self.iteration

  def save(self, state):
    self.states.append(state)
