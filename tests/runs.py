"""Runner processes for the reliability tests: signal a run mid-way, compare result files; and a
checkpoint policy that keeps one mid-run state."""

import glob
import os
import signal
import subprocess
import sys

from lottery_ticket.analysis import result_files
from tests import conftest


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


run_files = result_files.read  # {relative path: contents}, timing fields removed from summaries


def assert_same_results(expected_dir, actual_dir):
  """Every saved array, metric and summary field (but wall time) is equal, bit for bit."""
  assert result_files.differences(expected_dir, actual_dir) == []
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
