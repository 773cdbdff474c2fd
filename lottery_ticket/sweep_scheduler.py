"""The sweep's workers and scheduling: GPU discovery, the worker subprocesses (JSON lines over
their stdin and stdout, lottery_ticket.sweep_worker) and handing ready tasks to idle workers.

Nothing here imports TensorFlow; the workers do.
"""

import dataclasses
import datetime
import json
import os
import selectors
import shutil
import subprocess
import sys
import time

from foundations import errors
from foundations import paths

RETRY_SECONDS = 10.0  # before asking again for a run another process holds


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


def default_workers(gpus, per_gpu=1):
  """`per_gpu` per GPU; on a CPU, one per 8 cores (each TensorFlow process uses several)."""
  return len(gpus) * per_gpu or max(1, (os.cpu_count() or 1) // 8)


def worker_environments(count, gpus):
  """What each of `count` workers adds to its environment: its GPU of `gpus` (round robin) as
  CUDA_VISIBLE_DEVICES and, where workers share a GPU, TF_FORCE_GPU_ALLOW_GROWTH=true (else the
  first would take all its memory); nothing on a CPU."""
  shared = {'TF_FORCE_GPU_ALLOW_GROWTH': 'true'} if count > len(gpus) else {}
  return [dict(shared, CUDA_VISIBLE_DEVICES=gpus[index % len(gpus)]) if gpus else {}
          for index in range(count)]


class WorkerProcess:
  """A sweep_worker subprocess; `task` is the Task it runs, or None when idle. `environment`:
  variables it adds to this process's (worker_environments)."""

  def __init__(self, index, config, environment, threads, log_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get('TF_CPP_MIN_LOG_LEVEL', '2'),
               **environment)
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


class LocalWorkers:
  """The local engine: WorkerProcess subprocesses, each running one task at a time."""

  def __init__(self, workers, stream=sys.stdout):
    self.workers = list(workers)
    self.stream = stream
    self._selector = selectors.DefaultSelector()
    for worker in self.workers:
      self._selector.register(worker.process.stdout, selectors.EVENT_READ, worker)

  @property
  def parallelism(self):
    return max(1, len(self.workers))

  def running(self):
    return [w.task for w in self.workers if w.task is not None]

  def start(self, ready):
    """Gives idle workers tasks of `ready` (best first), the same trial first: no data reload."""
    ready = list(ready)
    for worker in self.workers:
      if worker.task is None and ready:
        last = getattr(worker, 'last_trial', None)
        task = min(ready, key=lambda t: (t.priority[:2], t.spec['trial'] != last,
                                         t.priority[2:]))
        ready.remove(task)
        worker.last_trial = task.spec['trial']
        worker.start(task)

  def finish(self):
    """After the last task: closes the workers' input and waits for them to exit."""
    for worker in self.workers:
      worker.close()
    for worker in self.workers:
      worker.process.wait()

  def stop(self, signal_number):
    """Passes `signal_number` on to the workers (they checkpoint and exit); kills any that
    have not exited after 300 s."""
    for worker in self.workers:
      if worker.process.poll() is None:
        worker.process.send_signal(signal_number)
    for worker in self.workers:
      try:
        worker.process.wait(timeout=300)
      except subprocess.TimeoutExpired:
        worker.process.kill()

  def wait(self, timeout):
    """[(task, answer)] of the workers that answered within `timeout` seconds; the answer is
    None for a task whose worker died."""
    answers = []
    for key, _ in self._selector.select(timeout=timeout):
      worker = key.data
      line = worker.process.stdout.readline()
      task, worker.task = worker.task, None
      if line:
        answers.append((task, json.loads(line)))
        continue
      self._selector.unregister(worker.process.stdout)
      self.workers.remove(worker)
      print(f'sweep: worker {worker.index} exited (status {worker.process.wait()}); see '
            f'{worker.log.name}', file=self.stream, flush=True)
      if not self.workers:
        raise errors.UserInputError(f'every worker exited; see {worker.log.name}')
      if task is not None:
        answers.append((task, None))
    return answers


class Sweep:
  """Hands ready tasks to an engine's workers until every task is done, failed or cannot run.

  The engine (LocalWorkers, or sweep_ray.RayRuns) has `parallelism`, `running()` (the tasks it
  runs), `start(ready tasks)`, `wait(timeout)` -> [(task, answer or None if it was lost)], and
  for the sweep's end `finish()` and `stop(signal_number)`.
  """

  def __init__(self, tasks, engine, progress_seconds, stream=sys.stdout):
    self.tasks = tasks
    self.engine = engine
    self.progress_seconds = progress_seconds
    self.stream = stream
    self.done, self.failed = set(), {}  # run_dir; run_dir -> message
    self.retry_at = {}  # run_dir -> time when a run held elsewhere is asked for again
    self.durations = []
    self._last_progress = 0.0
    self._by_dir = {t.run_dir: t for t in tasks}
    self._changed = True

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
    running = {task.run_dir for task in self.engine.running()}
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
    running = [task.label for task in self.engine.running()]
    left = len(self.tasks) - len(self.done) - len(self.failed)
    eta = ''
    if self.durations and left:
      mean = sum(self.durations) / len(self.durations)
      seconds = mean * left / self.engine.parallelism
      eta = f'; ETA {datetime.timedelta(seconds=round(seconds))}'
    failed = f', {len(self.failed)} failed' if self.failed else ''
    print(f'sweep: {len(self.done)}/{len(self.tasks)} runs done{failed}; running: '
          f'{", ".join(running) or "none"}{eta}', file=self.stream, flush=True)

  def _answer(self, task, answer):
    if answer is None:  # its worker died: ask again at once
      self.retry_at[task.run_dir] = time.monotonic()
    elif answer['status'] == 'done':
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
    while True:
      self._refresh()
      if not self._open() and not self.engine.running():
        break
      ready = self._ready()
      if ready:
        self.engine.start(ready)
      if self._changed:  # after the new assignments, so 'running' is up to date
        self._changed = False
        self.progress(force=True)
      for task, answer in self.engine.wait(timeout=1.0):
        self._answer(task, answer)
      self.progress()
    self.progress(force=True)
