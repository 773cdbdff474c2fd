"""lottery_ticket.sweep: the protocol's plan, and the sweep run by workers, killed and resumed by
two sweeps sharing the output directory."""

import dataclasses
import glob
import json
import os
import signal
import subprocess
import sys

import pytest

from foundations import paths
from lottery_ticket import config as config_lib
from lottery_ticket import sweep
from lottery_ticket import sweep_scheduler
from lottery_ticket import sweep_worker
from tests import conftest


def test_plan_orders_the_protocol_and_names_control_trials(tmp_path):
  config = config_lib.ExperimentConfig(
      protocol='lottery', network='lenet300_100', dataset='mnist', output_dir=str(tmp_path),
      training_iterations=20, batch_size=20, learning_rate=1e-3, levels=2)
  tasks = sweep.plan(config, (1, 2), (50.0,), reinit_trials=3, random_prune_trials=1,
                     control_levels=(2,))
  assert len(tasks) == 2 * (3 + 3 + 1 + 1)
  by_dir = {task.run_dir: task for task in tasks}
  out = str(tmp_path)
  level2 = paths.run_dir(out, 2, 2, 'lottery')
  assert by_dir[level2].needs == (paths.run_dir(out, 2, 1, 'lottery'),)
  assert by_dir[paths.run_dir(out, 1, 2, 'reinit_control3')].spec == dict(
      protocol='reinit', trial=1, level=2, control_trial=3)
  assert by_dir[paths.run_dir(out, 1, 2, 'reinit')].needs == (
      paths.run_dir(out, 1, 2, 'lottery'),)
  assert by_dir[paths.remaining_dir(out, 2, 'one_shot', 50.0)].needs == (
      paths.run_dir(out, 2, 0, 'lottery'),)
  assert [t.spec['protocol'] for t in tasks[:6]] == ['lottery'] * 6  # the critical path first


def test_workers_default_to_the_gpus(monkeypatch):
  monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0,3')
  assert sweep.gpu_ids() == ['0', '3'] and sweep.default_workers(['0', '3']) == 2
  monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
  assert sweep.gpu_ids() == [] and sweep.default_workers([]) >= 1


def test_workers_share_each_gpu_round_robin_with_memory_growth():
  assert sweep.default_workers(['0', '3'], per_gpu=3) == 6
  environments = sweep_scheduler.worker_environments(6, ['0', '3'])
  assert [env['CUDA_VISIBLE_DEVICES'] for env in environments] == ['0', '3'] * 3
  assert all(env['TF_FORCE_GPU_ALLOW_GROWTH'] == 'true' for env in environments)
  assert sweep_scheduler.worker_environments(2, ['0', '3']) == [  # one each: no sharing
      {'CUDA_VISIBLE_DEVICES': '0'}, {'CUDA_VISIBLE_DEVICES': '3'}]
  assert sweep_scheduler.worker_environments(2, []) == [{}, {}]  # a CPU: nothing to pin


def test_workers_get_the_sweeps_deterministic_setting(tmp_path):
  config = config_lib.ExperimentConfig(
      protocol='lottery', network='lenet300_100', dataset='mnist', output_dir=str(tmp_path),
      training_iterations=20, batch_size=20, learning_rate=1e-3, deterministic=True)
  sent = json.loads(json.dumps(dataclasses.asdict(config)))  # as WorkerProcess sends it
  assert sweep_worker.config_from_json(sent) == config


def _start(args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=conftest.REPO_ROOT)
  return subprocess.Popen([sys.executable, '-m', 'lottery_ticket.sweep', *args],
                          cwd=conftest.REPO_ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow  # about 45 s on 2 loaded cores
def test_sweep_killed_then_resumed_by_two_sweeps_sharing_the_directory(idx_dataset, tmp_path):
  output_dir = str(tmp_path / 'sweep')
  args = conftest.small_run_flags(idx_dataset, output_dir, iterations=40) + [
      '--trials=1-2', '--levels=1', '--reinit_trials=2', '--one_shot=50', '--workers=2',
      '--checkpoint_interval=20', '--progress_seconds=0']
  total = 2 * (2 + 2 + 1)
  first = _start(args)
  for line in first.stdout:
    if line.startswith('sweep: 2/'):  # two runs done: SIGKILL the sweep and its workers
      os.killpg(first.pid, signal.SIGKILL)
      break
  first.communicate(timeout=60)
  done_before = len(glob.glob(os.path.join(output_dir, 'trial*', '**', 'summary.json'),
                              recursive=True))
  assert 2 <= done_before < total
  sweeps = [_start(args[:-2] + ['--workers=1', '--progress_seconds=0']) for _ in range(2)]
  outputs = [process.communicate(timeout=600) for process in sweeps]
  for process, (stdout, stderr) in zip(sweeps, outputs):
    assert process.returncode == 0, stderr[-3000:]
    assert f'sweep: {total}/{total} runs done' in stdout
    assert 'sweep: report written to' in stdout
  trained = sum(stdout.count(' done in ') for stdout, _ in outputs)
  assert trained == total - done_before  # each remaining run trained once, by one of them
  assert len(glob.glob(os.path.join(output_dir, 'trial*', '**', 'summary.json'),
                       recursive=True)) == total
  assert not glob.glob(os.path.join(output_dir, 'trial*', '**', '.*'), recursive=True)
  assert os.path.isfile(os.path.join(output_dir, 'report', 'report.md'))
