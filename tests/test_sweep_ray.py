"""lottery_ticket.sweep --engine=ray: the plan as Ray tasks on a two-node local Ray cluster
equals the local engine's result bit for bit; a killed Ray worker's run is retried from its
checkpoint; a Ray sweep and a local sweep on one directory train every run once between them."""

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from foundations import errors
from lottery_ticket import sweep_ray
from tests import conftest
from tests import runs

SWEEP = 'lottery_ticket.sweep'
PLAN = ['--trials=1-2', '--levels=2', '--checkpoint_interval=20', '--progress_seconds=0']
TOTAL = 6  # 2 trials x levels 0-2


def _flags(idx_dataset, output_dir, iterations=60):
  return conftest.small_run_flags(idx_dataset, output_dir, iterations) + PLAN


def _trained(stdout):
  return stdout.count(' done in ')


@pytest.fixture(scope='module')
def local_sweep(idx_dataset, tmp_path_factory):
  """The plan run by the local engine: what every Ray sweep here must reproduce."""
  out = str(tmp_path_factory.mktemp('local'))
  process = conftest.run_module(SWEEP, *_flags(idx_dataset, out), '--workers=2')
  assert process.returncode == 0, process.stderr[-3000:]
  return out


@pytest.fixture(scope='module')
def two_nodes():
  """A Ray cluster of two simulated nodes on this machine, one CPU each."""
  from ray import cluster_utils  # pylint: disable=g-import-not-at-top
  cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={'num_cpus': 1})
  cluster.add_node(num_cpus=1)
  cluster.wait_for_nodes()
  yield cluster
  cluster.shutdown()


def test_ray_sweep_on_two_nodes_equals_the_local_sweep(local_sweep, two_nodes, idx_dataset,
                                                        tmp_path):
  out = str(tmp_path / 'ray')
  process = conftest.run_module(SWEEP, *_flags(idx_dataset, out), '--engine=ray',
                                f'--ray_address={two_nodes.address}')
  assert process.returncode == 0, process.stderr[-3000:]
  first = process.stdout.splitlines()[0]
  assert f'as Ray tasks on the Ray cluster at {two_nodes.address}, 2 at a time' in first, first
  assert f'sweep: {TOTAL}/{TOTAL} runs done' in process.stdout
  assert _trained(process.stdout) == TOTAL and 'sweep: report written to' in process.stdout
  runs.assert_same_results(local_sweep, out)
  logs = glob.glob(os.path.join(out, 'sweep_logs', '*-ray-*.log'))
  assert len(logs) >= 2  # a worker process on each node
  assert sum('[trial' in open(log).read() for log in logs) >= 2


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch):
  monkeypatch.setitem(sys.modules, 'ray', None)  # importing it raises ImportError
  monkeypatch.setenv('RAY_USAGE_STATS_ENABLED', '0')
  with pytest.raises(errors.UserInputError, match=r"^--engine=ray: Ray is not installed; "
                     r"install it with pip install -e '\.\[ray\]'$"):
    sweep_ray.import_ray(own_instance=False)


def _start(args):
  return runs.start(SWEEP, args, stderr=subprocess.PIPE)


@pytest.mark.slow  # two sweeps of the plan at once, one of them starting Ray (~40 s on 2 cores)
def test_a_ray_sweep_and_a_local_sweep_share_a_directory(local_sweep, idx_dataset, tmp_path):
  out = str(tmp_path / 'both')
  sweeps = [_start(_flags(idx_dataset, out) + ['--engine=ray', '--cpus_per_run=1']),
            _start(_flags(idx_dataset, out) + ['--workers=2'])]  # 1 thread per run, as in Ray
  outputs = [process.communicate(timeout=600) for process in sweeps]
  for process, (stdout, stderr) in zip(sweeps, outputs):
    assert process.returncode == 0, stderr[-3000:]
    assert f'sweep: {TOTAL}/{TOTAL} runs done' in stdout
  assert sum(_trained(stdout) for stdout, _ in outputs) == TOTAL  # each run trained once
  runs.assert_same_results(local_sweep, out)


@pytest.mark.slow  # two sweeps of 600-iteration runs (~40 s on 2 cores)
def test_a_killed_ray_worker_is_retried_and_resumes_its_run(idx_dataset, tmp_path):
  one_trial = ['--trials=1', '--levels=1', '--checkpoint_interval=100', '--progress_seconds=0']
  expected, out = str(tmp_path / 'local'), str(tmp_path / 'ray')

  def flags(output_dir):
    return conftest.small_run_flags(idx_dataset, output_dir, iterations=600) + one_trial

  process = conftest.run_module(SWEEP, *flags(expected), '--workers=2')  # 1 thread per run
  assert process.returncode == 0, process.stderr[-3000:]
  sweep = _start(flags(out) + ['--engine=ray'])
  killed, deadline = None, time.monotonic() + 300
  while killed is None and time.monotonic() < deadline:  # the worker past level 1's checkpoint
    for log in glob.glob(os.path.join(out, 'sweep_logs', '*-ray-*.log')):
      if 'level1 lottery] iteration 300/600' in open(log).read():
        killed = int(log.rpartition('-')[2][:-len('.log')])
        os.kill(killed, signal.SIGKILL)
        break
    time.sleep(0.02)
  stdout, stderr = sweep.communicate(timeout=300)
  assert killed is not None and sweep.returncode == 0, stderr[-3000:]
  assert 'sweep: 2/2 runs done' in stdout
  logs = ''.join(open(log).read() for log in glob.glob(os.path.join(out, 'sweep_logs', '*')))
  assert 'resuming from the checkpoint' in logs
  runs.assert_same_results(expected, out)
