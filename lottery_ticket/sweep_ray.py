"""The sweep's Ray engine: every run of the plan is a Ray task, placed by Ray on any node.

  python -m lottery_ticket.sweep ... --engine=ray [--ray_address=auto] [--gpus_per_run=0.25]

The plan, the bookkeeping and the progress lines are the local engine's (sweep_scheduler.Sweep):
a task is submitted once the runs it needs are recorded, so a level waits for the previous
level and a control for its ticket. Each task runs in a Ray worker process through the same
sweep_worker.Worker and run claims as a local worker, so a Ray sweep and a local sweep sharing
one --output_dir never train a run twice, and a rerun resumes. Ray retries a task whose worker
or node died (MAX_RETRIES), and the retry resumes from the run's checkpoint.

Without --ray_address the sweep starts a Ray instance of its own on this machine: its dashboard
listens on 127.0.0.1 only and token authentication is on (Ray >= 2.52), so nothing it serves
can be used without the token in ~/.ray/auth_token. Ray's own gRPC ports still listen on every
interface (docs/sweep.md says how to check); keep a cluster inside a trusted network.
"""

import logging
import math
import os
import socket

from foundations import errors
from foundations import interrupts

MAX_RETRIES = 3  # times Ray reruns a task whose worker process or node died
CANCEL_SECONDS = 30.0  # Ctrl-C: how long cancelled tasks get to stop before they are killed
INSTALL = "pip install -e '.[ray]'"
NO_CLUSTER = ('start one with "ray start --head", or leave --ray_address unset for a local '
              'instance')

_worker = None  # this Ray worker process's sweep_worker.Worker, reused by its later tasks


def import_ray(own_instance):
  """The ray module, or a UserInputError saying how to install it.

  For an instance of its own (`own_instance`), token authentication is asked for before Ray
  reads its configuration at import (Ray 2.52-2.5x default to none; later ones to tokens).
  """
  os.environ.setdefault('RAY_USAGE_STATS_ENABLED', '0')  # nothing reported to Anyscale
  if own_instance:
    os.environ.setdefault('RAY_AUTH_MODE', 'token')
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise errors.UserInputError(
        f'--engine=ray: Ray is not installed; install it with {INSTALL}') from None
  return ray


def _run_task(base_values, task, threads, log_dir):
  """Runs one sweep task in a Ray worker process; sweep_worker.run_task's answer."""
  global _worker  # pylint: disable=global-statement
  # pylint: disable=g-import-not-at-top  (TensorFlow: in the Ray worker only)
  from lottery_ticket import sweep_worker
  if _worker is None:
    log = os.open(os.path.join(log_dir, f'{socket.gethostname()}-ray-{os.getpid()}.log'),
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)  # the runs' output goes to sweep_logs/, as a local worker's does
    os.dup2(log, 2)
    _worker = sweep_worker.start_worker(base_values, threads)
  return sweep_worker.run_task(_worker, task)


def check_address(address):
  """A UserInputError at once if nothing listens at a host:port `address` (Ray itself would
  wait a minute for it)."""
  if address in (None, 'auto') or '://' in address:
    return
  host, _, port = address.rpartition(':')
  try:
    socket.create_connection((host or 'localhost', int(port)), timeout=5).close()
  except ValueError:
    raise errors.UserInputError(f'--ray_address={address}: expected auto or host:port, e.g. '
                                '10.0.0.1:6379 (the address "ray start --head" printed)') from None
  except OSError as e:
    raise errors.UserInputError(f'--ray_address={address}: no Ray cluster answers there '
                                f'({e.strerror or e}); {NO_CLUSTER}') from None


def start(ray, address):
  """Joins the Ray cluster at `address`, or starts a local instance (None); its dashboard URL
  ('' if it has none)."""
  options = dict(log_to_driver=False, logging_level=logging.ERROR)
  if address is None:
    options.update(dashboard_host='127.0.0.1', _node_ip_address='127.0.0.1')
  try:
    context = ray.init(address=address, **options)
  except (ConnectionError, RuntimeError, ValueError) as e:
    raise errors.UserInputError(
        f'--ray_address={address}: no Ray cluster to join there ({e}); {NO_CLUSTER}') from None
  interrupts.reinstall()  # Ctrl-C and SIGTERM stop the sweep as they do with local workers
  url = context.dashboard_url or ''
  return f'http://{url}' if url and '://' not in url else url


class RayRuns:
  """The Ray engine for sweep_scheduler.Sweep: ready tasks become Ray tasks, as many at a time
  as the cluster's CPUs and GPUs hold (re-read as nodes join or leave)."""

  def __init__(self, ray, config_values, cpus_per_run, gpus_per_run, log_dir):
    self.ray = ray
    self.cpus_per_run = cpus_per_run
    self.gpus_per_run = gpus_per_run
    env = {'TF_CPP_MIN_LOG_LEVEL': os.environ.get('TF_CPP_MIN_LOG_LEVEL', '2')}
    if 0 < gpus_per_run < 1:  # runs sharing a GPU must not each take all of its memory
      env['TF_FORCE_GPU_ALLOW_GROWTH'] = 'true'
    self._remote = ray.remote(_run_task).options(
        num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=MAX_RETRIES,
        retry_exceptions=False, runtime_env={'env_vars': env})
    self._config_values = config_values
    self._threads = max(1, int(cpus_per_run))  # TensorFlow's CPU threads in each run
    self._log_dir = os.path.abspath(log_dir)
    self._refs = {}  # ObjectRef -> Task
    if self.capacity() < 1:
      resources = ray.cluster_resources()
      raise errors.UserInputError(
          f'--cpus_per_run={cpus_per_run:g} --gpus_per_run={gpus_per_run:g}: more than a run can '
          f'get on this Ray cluster ({resources.get("CPU", 0):g} CPUs, '
          f'{resources.get("GPU", 0):g} GPUs)')

  def capacity(self):
    """How many runs the cluster holds at once."""
    resources = self.ray.cluster_resources()
    count = math.floor(resources.get('CPU', 0) / self.cpus_per_run + 1e-9)
    if self.gpus_per_run:
      count = min(count, math.floor(resources.get('GPU', 0) / self.gpus_per_run + 1e-9))
    return count

  @property
  def parallelism(self):
    """Runs at once, for the ETA."""
    return max(1, self.capacity())

  def running(self):
    return list(self._refs.values())

  def start(self, ready):
    """Submits the first tasks of `ready` (best first) that the cluster has room for."""
    for task in ready[:max(0, self.capacity() - len(self._refs))]:
      ref = self._remote.remote(self._config_values, dict(task.spec, id=task.id),
                                self._threads, self._log_dir)
      self._refs[ref] = task

  def wait(self, timeout):
    """[(task, answer)] of the tasks that ended within `timeout` seconds."""
    if not self._refs:
      return []
    ended, _ = self.ray.wait(list(self._refs), num_returns=1, timeout=timeout)
    if ended:
      rest = [ref for ref in self._refs if ref not in ended]
      ended += self.ray.wait(rest, num_returns=len(rest), timeout=0)[0] if rest else []
    return [(self._refs.pop(ref), self._answer(ref)) for ref in ended]

  def _answer(self, ref):
    try:
      return self.ray.get(ref)
    except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError,
            self.ray.exceptions.ObjectLostError) as e:
      message = (f'its Ray worker died {MAX_RETRIES + 1} times ({type(e).__name__}); see '
                 'sweep_logs/')
    except self.ray.exceptions.RayError as e:
      lines = [line for line in str(e).splitlines() if line.strip()]
      message = f'{type(e).__name__}: {lines[-1] if lines else ""}'
    return {'status': 'failed', 'message': message, 'seconds': 0.0}

  def finish(self):
    """After the last task: nothing to wait for (Ray shuts an instance of its own down at exit)."""

  def stop(self, signal_number):
    """Cancels every task (Ctrl-C, SIGTERM): running ones get CANCEL_SECONDS to stop, then are
    killed. Their checkpoints stay for the next start."""
    del signal_number  # Ray cancels with KeyboardInterrupt whatever the signal was
    refs, self._refs = list(self._refs), {}
    if not refs:
      return
    for ref in refs:
      self.ray.cancel(ref)
    _, left = self.ray.wait(refs, num_returns=len(refs), timeout=CANCEL_SECONDS)
    for ref in left:
      self.ray.cancel(ref, force=True)
