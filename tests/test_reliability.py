"""Kill-and-resume, the output-directory lock, refused flag changes, divergence, corrupt files."""

import os
import re
import signal
import socket
import subprocess

import pytest

from tests import conftest
from tests import runs

RUNNER = 'mnist_fc.runners.lottery_experiment'


def _flags(idx_dataset, output_dir):
  return conftest.small_run_flags(idx_dataset, output_dir, iterations=60) + [
      '--levels=2', '--checkpoint_interval=20', '--progress_seconds=0']


def _signal_when(args, marker, signal_number):
  return runs.signal_when(RUNNER, args, marker, signal_number)


def _run_until(args, marker):
  return runs.run_until(RUNNER, args, marker)


@pytest.fixture(scope='module')
def uninterrupted(idx_dataset, tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp('uninterrupted'))
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  return output_dir


def test_killed_runs_resume_bit_for_bit(uninterrupted, idx_dataset, tmp_path):
  output_dir = str(tmp_path / 'killed')
  args = _flags(idx_dataset, output_dir)
  _run_until(args, 'level0 lottery] iteration 40/60')  # mid-level
  resumed = _run_until(args, 'level1 lottery] done')  # between levels
  assert 'resuming from the checkpoint at iteration' in resumed
  resumed = _run_until(args, 'level2 lottery] iteration 40/60')  # mid-level again
  assert 'level1/lottery: already complete' in resumed
  process = conftest.run_module(RUNNER, *args)
  assert process.returncode == 0, process.stderr
  assert 'resuming from the checkpoint' in process.stdout
  runs.assert_same_results(uninterrupted, output_dir)


def _interrupt(args, level, signal_number):
  """Runs until level `level` prints iteration 20, sends the signal; returns (stdout, iteration).

  The run must stop after its current chunk with one line saying where, and exit 128 + signal.
  """
  returncode, stdout, stderr = _signal_when(
      args, f'level{level} lottery] iteration 20/60', signal_number)
  assert returncode == 128 + signal_number, stderr
  assert 'Traceback' not in stderr
  assert not [line for line in stderr.splitlines() if line.startswith('error:')], stderr
  stopped = [line for line in stderr.splitlines() if 'interrupted' in line]
  assert len(stopped) == 1, stderr
  match = re.fullmatch(
      rf'\[trial1 level{level} lottery\] interrupted by {signal.Signals(signal_number).name} at '
      r'iteration (20|40)/60; checkpoint saved, re-run the same command to resume', stopped[0])
  assert match, stopped[0]
  return stdout, match.group(1)


def test_ctrl_c_and_sigterm_save_a_checkpoint_and_resume_bit_for_bit(uninterrupted, idx_dataset,
                                                                      tmp_path):
  output_dir = str(tmp_path / 'interrupted')
  args = _flags(idx_dataset, output_dir) + ['--checkpoint_interval=1000']  # only on a signal
  _, iteration = _interrupt(args, 0, signal.SIGINT)
  assert not os.path.exists(os.path.join(output_dir, 'trial1', 'level0', '.lottery.claim'))
  stdout, next_iteration = _interrupt(args, 1, signal.SIGTERM)
  assert f'level0 lottery] resuming from the checkpoint at iteration {iteration}' in stdout
  process = conftest.run_module(RUNNER, *args)
  assert process.returncode == 0, process.stderr
  assert f'level1 lottery] resuming from the checkpoint at iteration {next_iteration}' in (
      process.stdout)
  runs.assert_same_results(uninterrupted, output_dir)


def test_finished_experiment_rerun_trains_nothing(uninterrupted, idx_dataset):
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, uninterrupted))
  assert process.returncode == 0, process.stderr
  assert process.stdout.count('already complete') == 3 and '] iteration' not in process.stdout


def test_changed_settings_are_refused(uninterrupted, idx_dataset):
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, uninterrupted),
                                '--learning_rate=0.5', '--seed=3')
  assert process.returncode == 2
  assert '--learning_rate=0.5 (was 0.0012)' in process.stderr
  assert '--seed=3 (was 0)' in process.stderr


def _wait_for(process, marker):
  for line in process.stdout:
    if marker in line:
      return line
  raise AssertionError(f'{marker!r} never printed')


@pytest.mark.slow  # four TensorFlow processes, one SIGKILLed (~31 s on 2 cores)
def test_runs_are_claimed_one_process_each_and_a_killed_claimant_is_taken_over(idx_dataset,
                                                                                tmp_path):
  output_dir = str(tmp_path / 'claimed')
  args = conftest.small_run_flags(idx_dataset, output_dir, iterations=10**6) + [
      '--progress_seconds=0', '--checkpoint_interval=100']
  holder = runs.start(RUNNER, args)
  other = None
  try:
    _wait_for(holder, 'trial1 level0 lottery] iteration 100/')  # claimed, checkpoint saved
    other = runs.start(RUNNER, args + ['--trial=2'])  # another run of the same directory
    _wait_for(other, 'trial2 level0 lottery] iteration')
    assert holder.poll() is None  # both train at once
    second = conftest.run_module(RUNNER, *args)  # the run the holder trains
    assert second.returncode == 2
    errors_ = [line for line in second.stderr.splitlines() if line.startswith('error:')]
    assert len(errors_) == 1 and 'Traceback' not in second.stderr
    assert f'being trained by another process (pid {holder.pid}@{socket.gethostname()}' in (
        errors_[0])
    holder.kill()  # SIGKILL: the claim file stays, its flock goes with the process
    holder.wait(timeout=60)
    assert os.path.exists(os.path.join(output_dir, 'trial1', 'level0', '.lottery.claim'))
    returncode, stdout, _ = runs.signal_when(RUNNER, args, 'resuming from the checkpoint',
                                             signal.SIGTERM)
    assert returncode == 143, stdout
  finally:
    for process in (holder, other):
      if process is not None and process.poll() is None:
        process.kill()
        process.wait(timeout=60)


def test_divergence_is_recorded_and_nothing_is_pruned(idx_dataset, tmp_path):
  output_dir = str(tmp_path / 'diverged')
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, output_dir), '--learning_rate=1e30')
  assert process.returncode == 2
  assert 'training diverged' in process.stderr and 'Traceback' not in process.stderr
  run_dir = os.path.join(output_dir, 'trial1', 'level0', 'lottery')
  summary = conftest.read_summary(run_dir)
  assert summary['status'] == 'diverged'
  assert not os.path.exists(os.path.join(run_dir, 'final.npz'))
  assert not os.path.exists(os.path.join(output_dir, 'trial1', 'level1'))
  again = conftest.run_module(RUNNER, *_flags(idx_dataset, output_dir), '--learning_rate=1e30')
  assert again.returncode == 2 and 'diverged earlier' in again.stderr


@pytest.mark.parametrize('name', [  # one file in the default run; the same refusal for the others
    'masks.npz', pytest.param('final.npz', marks=pytest.mark.slow),
    pytest.param('summary.json', marks=pytest.mark.slow)])
def test_corrupt_saved_level_is_detected(uninterrupted, idx_dataset, tmp_path, name):
  output_dir = str(tmp_path / 'corrupt')
  subprocess.run(['cp', '-r', uninterrupted, output_dir], check=True)
  path = os.path.join(output_dir, 'trial1', 'level1', 'lottery', name)
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, output_dir))
  assert process.returncode == 2
  last = process.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ') and path in last


def test_unreadable_checkpoint_is_set_aside_and_the_run_restarts(uninterrupted, idx_dataset,
                                                                    tmp_path):
  output_dir = str(tmp_path / 'cut_short')
  subprocess.run(['cp', '-r', uninterrupted, output_dir], check=True)
  level = os.path.join(output_dir, 'trial1', 'level2')
  subprocess.run(['rm', '-r', os.path.join(level, 'lottery')], check=True)
  os.makedirs(os.path.join(level, '.lottery.partial'))
  with open(os.path.join(level, '.lottery.partial', 'checkpoint.npz'), 'wb') as f:
    f.write(b'PK\x03\x04 cut short by a crash')
  process = conftest.run_module(RUNNER, *_flags(idx_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  aside = os.path.join(level, '.lottery.partial.unreadable_checkpoint.npz')
  warnings = [line for line in process.stderr.splitlines() if line.startswith('warning:')]
  assert len(warnings) == 1 and 'not a readable .npz array file' in warnings[0]
  assert warnings[0].endswith(f'set aside as {aside}, the run restarts from its beginning')
  with open(aside, 'rb') as f:
    assert f.read() == b'PK\x03\x04 cut short by a crash'  # renamed, not deleted
  os.remove(aside)
  runs.assert_same_results(uninterrupted, output_dir)


def test_run_claim_is_exclusive_and_a_stale_claim_of_another_host_is_taken_over(tmp_path):
  from foundations import locking  # pylint: disable=g-import-not-at-top
  run_dir = str(tmp_path / 'trial1' / 'level0' / 'lottery')
  claim = locking.RunClaim(run_dir)
  with pytest.raises(locking.RunClaimed, match=f'pid {os.getpid()}@{socket.gethostname()}'):
    locking.RunClaim(run_dir)
  claim.release()
  assert not os.path.exists(locking.claim_path(run_dir))
  path = locking.claim_path(run_dir)
  with open(path, 'w') as f:  # a live claimant on another machine: fresh heartbeat
    f.write('{"host": "elsewhere", "pid": 7, "token": "x", "started": "then"}')
  with pytest.raises(locking.RunClaimed, match='pid 7@elsewhere'):
    locking.RunClaim(run_dir)
  old = os.path.getmtime(path) - locking.STALE_SECONDS - 1  # its heartbeat stopped
  os.utime(path, (old, old))
  locking.RunClaim(run_dir).release()
  assert not os.path.exists(path)
