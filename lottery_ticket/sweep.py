"""The paper's whole protocol in one command: every run of every trial, by worker processes.

  python -m lottery_ticket.sweep --network=lenet300_100 --output_dir=DIR --trials=1-5 \
      --levels=20 --reinit_trials=3 --random_prune_trials=1 --one_shot=51.3,21.1,7.0,3.6

plans the runs (per trial: lottery levels 0..L in order; at each --control_levels level, as soon
as its mask exists, --reinit_trials random reinitialisations and --random_prune_trials random
prunings; one-shot pruning to each --one_shot percentage once level 0 exists), runs them with
--workers worker processes (lottery_ticket.sweep_worker; each pinned to one GPU where there are
GPUs), prints progress (runs done / total, the running ones, an ETA) and finally writes the
analysis report into --report_dir (default {output_dir}/report).

Runs already complete are skipped, so re-running the command resumes an interrupted sweep.
Every run is claimed by the process training it (foundations.locking.RunClaim), so the same
command started on several machines against one shared --output_dir divides the runs among
them: a run claimed elsewhere is retried later (or found complete). Workers' output goes to
{output_dir}/sweep_logs/. Nothing here imports TensorFlow; the workers do.
"""

import dataclasses
import datetime
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

from absl import app
from absl import flags

from foundations import console
from foundations import errors
from foundations import interrupts
from foundations import paths
from lottery_ticket import preflight
from lottery_ticket import runner
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import spec as spec_lib

FLAGS = flags.FLAGS
RETRY_SECONDS = 10.0  # before asking again for a run another process holds
LOG_DIR = 'sweep_logs'


def network_packages():
  """The constants modules of every experiment package (imports no TensorFlow)."""
  # pylint: disable=g-import-not-at-top
  from cifar_conv import constants as cifar_constants
  from mnist_fc import constants as mnist_constants
  return (mnist_constants, cifar_constants)


def all_networks():
  """{name: NetworkSpec} of every experiment package (imports no TensorFlow)."""
  return {name: network for package in network_packages()
          for name, network in package.NETWORKS.items()}


def default_dataset(network):
  """The DEFAULT_DATASET of the experiment package that defines `network`."""
  return next(package.DEFAULT_DATASET for package in network_packages()
              if network in package.NETWORKS)


@dataclasses.dataclass
class Task:
  """One run: where it is recorded, the runs it needs, and what the worker is told."""
  id: int
  run_dir: str
  needs: tuple
  spec: dict  # experiment, trial, level, percent, control_trial
  label: str

  @property
  def priority(self):
    """Lottery levels first (the critical path), then one-shot runs, then controls (each
    protocol's catalog plan_priority)."""
    return (catalog.get(self.spec['experiment']).plan_priority, self.spec.get('level') or 0,
            self.spec['trial'], self.id)


def plan(config, trials, one_shot, reinit_trials, random_prune_trials, control_levels):
  """Every run of the protocol as Tasks, in priority order.

  Each task's run directory and label are the ones its protocol's catalog naming rule gives
  for the task's config (the last run that config writes): the sweep names no run itself.
  """
  tasks = []

  def add(needs, **spec):
    run = catalog.get(spec['experiment']).run_dirs(catalog.task_config(config, spec))[-1]
    tasks.append(Task(len(tasks), run.run_dir, tuple(needs), spec, run.label))
    return run.run_dir

  for trial in trials:
    ticket = {}
    for level in range(config.levels + 1):
      ticket[level] = add([ticket[level - 1]] if level else [], experiment='lottery',
                          trial=trial, level=level)
    for level in control_levels:
      for kind, count in (('reinit', reinit_trials), ('random_prune', random_prune_trials)):
        for k in range(1, count + 1):
          add([ticket[level]], experiment=kind, trial=trial, level=level, control_trial=k)
    for percent in one_shot:
      add([ticket[0]], experiment='one_shot', trial=trial, percent=percent)
  return sorted(tasks, key=lambda task: task.priority)


def gpu_ids():
  """The GPUs workers are pinned to: CUDA_VISIBLE_DEVICES, else nvidia-smi's list, else none."""
  visible = os.environ.get('CUDA_VISIBLE_DEVICES')
  if visible is not None:
    return [v for v in visible.split(',') if v.strip() and v.strip() != '-1']
  if not shutil.which('nvidia-smi'):
    return []
  try:
    listing = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True, timeout=30)
  except (OSError, subprocess.SubprocessError):
    return []
  return [str(i) for i, line in enumerate(listing.stdout.splitlines())
          if line.startswith('GPU ')]


def default_workers(gpus):
  """One per GPU; on a CPU, one per 8 cores (each TensorFlow process uses several)."""
  return len(gpus) or max(1, (os.cpu_count() or 1) // 8)


class WorkerProcess:
  """A sweep_worker subprocess; `task` is the Task it runs, or None when idle."""

  def __init__(self, index, config, gpu, threads, log_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get('TF_CPP_MIN_LOG_LEVEL', '2'))
    if gpu is not None:
      env['CUDA_VISIBLE_DEVICES'] = gpu
    self.index = index
    self.log = open(log_path, 'a')
    self.process = subprocess.Popen(
        [sys.executable, '-m', 'lottery_ticket.sweep_worker'], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=self.log, env=env, text=True, bufsize=1)
    self.send({'config': dataclasses.asdict(config), 'threads': threads})
    self.task = None
    self.started = None

  def send(self, message):
    self.process.stdin.write(json.dumps(message) + '\n')
    self.process.stdin.flush()

  def start(self, task):
    self.task, self.started = task, time.monotonic()
    self.send(dict(task.spec, id=task.id))

  def close(self):
    try:
      self.process.stdin.close()
    except OSError:
      pass


class Sweep:
  """Hands ready tasks to idle workers until every task is done, failed or cannot run."""

  def __init__(self, tasks, workers, progress_seconds, stream=sys.stdout):
    self.tasks = tasks
    self.workers = workers
    self.progress_seconds = progress_seconds
    self.stream = stream
    self.done, self.failed = set(), {}  # run_dir; run_dir -> message
    self.retry_at = {}  # run_dir -> time when a run held elsewhere is asked for again
    self.durations = []
    self._last_progress = 0.0
    self._selector = selectors.DefaultSelector()
    for worker in workers:
      self._selector.register(worker.process.stdout, selectors.EVENT_READ, worker)

  def _refresh(self):
    for task in self.tasks:
      if task.run_dir not in self.done and paths.is_complete(task.run_dir):
        self.done.add(task.run_dir)

  def _blocked(self, task):
    return any(need in self.failed or self._blocked_dir(need) for need in task.needs)

  def _blocked_dir(self, run_dir):
    task = self._by_dir.get(run_dir)
    return task is not None and self._blocked(task)

  def _open(self):
    running = {w.task.run_dir for w in self.workers if w.task is not None}
    return [t for t in self.tasks if t.run_dir not in self.done and t.run_dir not in self.failed
            and t.run_dir not in running and not self._blocked(t)]

  def _ready(self):
    now = time.monotonic()
    return [t for t in self._open() if all(need in self.done for need in t.needs)
            and self.retry_at.get(t.run_dir, 0) <= now]

  def progress(self, force=False):
    now = time.monotonic()
    if not force and now - self._last_progress < self.progress_seconds:
      return
    self._last_progress = now
    running = [w.task.label for w in self.workers if w.task is not None]
    left = len(self.tasks) - len(self.done) - len(self.failed)
    eta = ''
    if self.durations and left:
      mean = sum(self.durations) / len(self.durations)
      seconds = mean * left / max(1, len(self.workers))
      eta = f'; ETA {datetime.timedelta(seconds=round(seconds))}'
    failed = f', {len(self.failed)} failed' if self.failed else ''
    print(f'sweep: {len(self.done)}/{len(self.tasks)} runs done{failed}; running: '
          f'{", ".join(running) or "none"}{eta}', file=self.stream, flush=True)

  def _answer(self, worker):
    line = worker.process.stdout.readline()
    if not line:  # the worker died
      task = worker.task
      self._selector.unregister(worker.process.stdout)
      self.workers.remove(worker)
      if task is not None:
        self.retry_at[task.run_dir] = time.monotonic()
      print(f'sweep: worker {worker.index} exited (status {worker.process.wait()}); see '
            f'{worker.log.name}', file=self.stream, flush=True)
      if not self.workers:
        raise errors.UserInputError(f'every worker exited; see {worker.log.name}')
      return
    answer = json.loads(line)
    task, worker.task = worker.task, None
    if answer['status'] == 'done':
      self.done.add(task.run_dir)
      self.durations.append(answer['seconds'])
      print(f'sweep: {task.label} done in {answer["seconds"]:.0f} s', file=self.stream,
            flush=True)
      self._changed = True
    elif answer['status'] == 'found':
      self.done.add(task.run_dir)
      self._changed = True
    elif answer['status'] == 'claimed':
      self.retry_at[task.run_dir] = time.monotonic() + RETRY_SECONDS
    else:
      self.failed[task.run_dir] = answer['message']
      print(f'sweep: {task.label} failed: {answer["message"]}', file=self.stream, flush=True)

  def run(self):
    self._by_dir = {t.run_dir: t for t in self.tasks}  # pylint: disable=attribute-defined-outside-init
    self._changed = True  # pylint: disable=attribute-defined-outside-init
    while True:
      self._refresh()
      if not self._open() and all(w.task is None for w in self.workers):
        break
      for worker in self.workers:
        if worker.task is None:
          ready = self._ready()
          if ready:
            last = getattr(worker, 'last_trial', None)  # same trial first: no data reload
            task = min(ready, key=lambda t: (t.priority[:2], t.spec['trial'] != last,
                                             t.priority[2:]))
            worker.last_trial = task.spec['trial']
            worker.start(task)
      if self._changed:  # after the new assignments, so 'running' is up to date
        self._changed = False
        self.progress(force=True)
      for key, _ in self._selector.select(timeout=1.0):
        self._answer(key.data)
      self.progress()
    self.progress(force=True)


def _define_flags():
  """Defines the sweep's flags; returns --help's groups (runner.define_flags)."""
  groups = runner.define_flags('sweep', all_networks(), None)
  own = runner._defined(_define_sweep_flags)  # pylint: disable=protected-access
  return [(groups[0][0], groups[0][1] + own)] + groups[1:]


def _define_sweep_flags():
  flags.DEFINE_list('one_shot', [], 'One-shot pruning targets (percent remaining), '
                    'e.g. 51.3,21.1,7.0,3.6 (default: none).')
  flags.DEFINE_integer('reinit_trials', 0, 'Random reinitialisations per ticket (paper: 3).')
  flags.DEFINE_integer('random_prune_trials', 0, 'Random prunings per ticket.')
  flags.DEFINE_list('control_levels', None,
                    'Lottery levels that get controls (default: every level >= 1).')
  flags.DEFINE_integer('workers', None, 'Worker processes (default: one per GPU; on a CPU one '
                       'per 8 cores).')
  flags.DEFINE_string('report_dir', None, 'Where the report goes (default: {output_dir}/report).')


def _settings():
  """(config, tasks, workers, gpus, report_dir) from the flags, checked before anything runs."""
  if FLAGS.distribute != 'none':
    raise errors.UserInputError(
        f'--distribute={FLAGS.distribute}: the sweep trains many runs in parallel workers; '
        'distribute one large run with a single-run runner instead')
  if FLAGS.dataset is None:
    FLAGS.dataset = default_dataset(FLAGS.network)
  config = runner.config_from_flags('lottery', all_networks())
  config = dataclasses.replace(config, reinit_mode=FLAGS.reinit_mode)
  trials = runner.trials_from_flags()
  one_shot = spec_lib.parse_numbers('one_shot', FLAGS.one_shot, float)
  bad = [p for p in one_shot if not 0 < p <= 100]
  if bad:
    raise errors.UserInputError(f'--one_shot={",".join(FLAGS.one_shot)}: expected percentages '
                                'in (0, 100]')
  for name in ('reinit_trials', 'random_prune_trials'):
    if getattr(FLAGS, name) < 0:
      raise errors.UserInputError(f'--{name}={getattr(FLAGS, name)}: expected an integer >= 0')
  levels = range(1, config.levels + 1)
  control_levels = (tuple(levels) if FLAGS.control_levels is None
                    else spec_lib.parse_numbers('control_levels', FLAGS.control_levels, int))
  outside = [level for level in control_levels if level not in levels]
  if outside:
    raise errors.UserInputError(
        f'--control_levels={",".join(map(str, control_levels))}: expected levels in 1..'
        f'--levels={config.levels}')
  gpus = gpu_ids()
  workers = default_workers(gpus) if FLAGS.workers is None else FLAGS.workers
  if workers < 1:
    raise errors.UserInputError(f'--workers={workers}: expected an integer >= 1')
  for trial in trials:
    preflight.check(dataclasses.replace(config, trial=trial))
  preflight.load_dataset(config)  # the dataset is there and readable
  tasks = plan(config, trials, one_shot, FLAGS.reinit_trials, FLAGS.random_prune_trials,
               control_levels)
  report_dir = FLAGS.report_dir or os.path.join(config.output_dir, 'report')
  return config, tasks, workers, gpus, report_dir


def _stop(workers, signal_number):
  for worker in workers:
    if worker.process.poll() is None:
      worker.process.send_signal(signal_number)
  for worker in workers:
    try:
      worker.process.wait(timeout=300)
    except subprocess.TimeoutExpired:
      worker.process.kill()


def main(argv):
  if len(argv) > 1:
    errors.exit_with_error(
        f'unexpected arguments {argv[1:]}; every setting is a --flag (see --helpfull)')
  workers = []
  with interrupts.handled():
    try:
      config, tasks, count, gpus, report_dir = _settings()
      log_dir = os.path.join(config.output_dir, LOG_DIR)
      os.makedirs(log_dir, exist_ok=True)
      host = socket.gethostname()
      threads = None if gpus else max(1, (os.cpu_count() or 1) // count)
      print(f'sweep: {len(tasks)} runs of {config.network} on {config.dataset} into '
            f'{config.output_dir}, {count} workers'
            f'{" on GPUs " + ",".join(gpus) if gpus else ""}; logs in {log_dir}', flush=True)
      for index in range(count):
        workers.append(WorkerProcess(
            index, config, gpus[index % len(gpus)] if gpus else None, threads,
            os.path.join(log_dir, f'{host}-{os.getpid()}-worker{index}.log')))
      sweep = Sweep(tasks, list(workers), FLAGS.progress_seconds)
      sweep.run()
      for worker in workers:
        worker.close()
      for worker in workers:
        worker.process.wait()
      if sweep.done:
        # pylint: disable=g-import-not-at-top  (pandas and matplotlib: only now)
        from lottery_ticket.analysis import report
        written = report.write_report(config.output_dir, report_dir)
        print(f'sweep: report written to {written["report.md"]}', flush=True)
      if sweep.failed or len(sweep.done) < len(tasks):
        errors.exit_with_error(
            f'{len(tasks) - len(sweep.done)} of {len(tasks)} runs not done '
            f'({len(sweep.failed)} failed, the others need them); see the lines above')
    except errors.UserInputError as e:
      _stop(workers, signal.SIGTERM)
      errors.exit_with_error(str(e))
    except OSError as e:
      _stop(workers, signal.SIGTERM)
      errors.exit_with_error(errors.os_error_message(e, 'output_dir', FLAGS.output_dir or '.'))
    except interrupts.Interrupted as e:
      _stop(workers, e.signal_number)
      print(f'sweep: {e}; re-run the same command to resume', file=sys.stderr, flush=True)
      sys.exit(e.exit_status)


def run():
  app.run(main, flags_parser=console.parse_flags(_define_flags()))


if __name__ == '__main__':
  run()
