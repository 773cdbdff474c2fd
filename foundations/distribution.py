"""Data-parallel training of one run through tf.distribute: the strategy, devices and TF_CONFIG.

--distribute=mirrored trains on several local devices (all GPUs, or the logical CPUs made by
--cpu_devices, or the devices listed); --distribute=multi_worker on the workers of TF_CONFIG.
The Trainer splits every global batch across the replicas (each takes its slice by
replica_id_in_sync_group) and all-reduces the gradients, so a step equals the single-device
step up to floating-point summation order.

The checks of flags and TF_CONFIG here import nothing (preflight runs them before TensorFlow is
imported); the rest imports TensorFlow when called.
"""

import contextlib
import json
import os
import re

from foundations import errors

KINDS = ('none', 'mirrored', 'multi_worker')
_DEVICE = re.compile(r'^/?(job:\w+/(replica:\d+/)?(task:\d+/)?)?(device:)?(cpu|gpu):\d+$',
                     re.IGNORECASE)
_ADDRESS = re.compile(r'^[^:\s]+:\d+$')


def check_devices(devices):
  """Raises UserInputError for a --distribute_devices entry that is not a device name."""
  for device in devices:
    if not _DEVICE.match(device):
      raise errors.UserInputError(
          f'--distribute_devices={",".join(devices)}: {device!r} is not a device name '
          '(e.g. /gpu:0,/gpu:1 or /cpu:0,/cpu:1)')


def cluster_spec(environ=None):
  """(task type, task index, number of workers) of TF_CONFIG, checked (no TensorFlow needed).

  Raises:
    UserInputError: TF_CONFIG is missing, not JSON, or its cluster or task is malformed.
  """
  text = (os.environ if environ is None else environ).get('TF_CONFIG')
  prefix = '--distribute=multi_worker: TF_CONFIG'
  if not text:
    raise errors.UserInputError(f'{prefix} is not set (a JSON cluster and task, see '
                                'tf.distribute.MultiWorkerMirroredStrategy)')
  try:
    value = json.loads(text)
  except ValueError as e:
    raise errors.UserInputError(f'{prefix} is not JSON: {e}') from None
  cluster = value.get('cluster') if isinstance(value, dict) else None
  task = value.get('task') if isinstance(value, dict) else None
  if not isinstance(cluster, dict) or not cluster:
    raise errors.UserInputError(f'{prefix}: expected a "cluster" object of job: [host:port]')
  for job, addresses in cluster.items():
    if job not in ('chief', 'worker') or not isinstance(addresses, list) or not addresses or \
        not all(isinstance(a, str) and _ADDRESS.match(a) for a in addresses):
      raise errors.UserInputError(
          f'{prefix}: cluster job {job!r} must be chief or worker with a list of host:port')
  if not isinstance(task, dict) or task.get('type') not in cluster or \
      not isinstance(task.get('index'), int) or \
      not 0 <= task['index'] < len(cluster[task['type']]):
    raise errors.UserInputError(
        f'{prefix}: "task" must name a job of the cluster and an index in it, got {task!r}')
  return task['type'], task['index'], sum(len(a) for a in cluster.values())


def is_chief(kind, environ=None):
  """Whether this process writes outputs: always, except a multi-worker task that is not the
  chief (the 'chief' job, or worker 0 when there is none)."""
  if kind != 'multi_worker':
    return True
  task_type, index, _ = cluster_spec(environ)
  text = (os.environ if environ is None else environ)['TF_CONFIG']
  has_chief = 'chief' in json.loads(text)['cluster']
  return task_type == 'chief' or (not has_chief and task_type == 'worker' and index == 0)


def worker_output_dir(output_dir, kind, environ=None):
  """Where this process writes: `output_dir`, or for a multi-worker task other than the chief
  its own mirror {output_dir}/.{type}{index} (it trains every run in lockstep with the chief and
  needs its own checkpoints and finished runs, but must not write the chief's files)."""
  if is_chief(kind, environ):
    return output_dir
  task_type, index, _ = cluster_spec(environ)
  return os.path.join(output_dir, f'.{task_type}{index}')


def configure_cpu_devices(count):
  """Splits the CPU into `count` logical devices (before TensorFlow initialises its devices)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  cpu = tf.config.list_physical_devices('CPU')[0]
  current = tf.config.get_logical_device_configuration(cpu)
  if current is not None and len(current) == count:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
  except RuntimeError as e:
    raise errors.UserInputError(
        f'--cpu_devices={count}: TensorFlow has initialised its devices already ({e})') from None


_STRATEGIES = {}  # one per process and setting: TensorFlow allows one multi-worker strategy


def create_strategy(kind, devices=(), cpu_devices=0, batch_size=None):
  """The tf.distribute strategy of --distribute (None for 'none': today's single-device code).

  Args:
    kind: one of KINDS.
    devices: mirrored: the device names (default: every GPU, or every logical CPU if none).
    cpu_devices: if > 0, first split the CPU into this many logical devices.
    batch_size: if given, the global batch size, which must divide evenly among the replicas.

  Raises:
    UserInputError: an unknown device, or a batch size the replicas cannot share.
  """
  if kind == 'none':
    return None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  key = (kind, tuple(devices), cpu_devices)
  if key not in _STRATEGIES:
    if cpu_devices:
      configure_cpu_devices(cpu_devices)
    if kind == 'mirrored':
      local = [d.name for d in tf.config.list_logical_devices()]
      chosen = list(devices) or [d.name for d in tf.config.list_logical_devices('GPU')] or [
          d.name for d in tf.config.list_logical_devices('CPU')]
      canonical = {_canonical(name): name for name in local}
      unknown = [d for d in chosen if _canonical(d) not in canonical]
      if unknown:
        raise errors.UserInputError(
            f'--distribute_devices={",".join(devices)}: no device {unknown[0]} here '
            f'(this machine has {",".join(local)})')
      strategy = tf.distribute.MirroredStrategy([canonical[_canonical(d)] for d in chosen])
    else:
      cluster_spec()
      strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _STRATEGIES[key] = strategy
  strategy = _STRATEGIES[key]
  replicas = strategy.num_replicas_in_sync
  if batch_size is not None and batch_size % replicas:
    raise errors.UserInputError(
        f'--batch_size={batch_size}: not divisible by the {replicas} replicas of '
        f'--distribute={kind}')
  return strategy


def _canonical(name):
  """'/job:localhost/replica:0/task:0/device:CPU:1' and '/cpu:1' -> 'cpu:1'."""
  kind, index = name.rsplit('/', 1)[-1].split(':')[-2:]
  return f'{kind.lower()}:{index}'


def scope(strategy):
  """strategy.scope(), or a no-op context for single-device training."""
  return contextlib.nullcontext() if strategy is None else strategy.scope()


def data_scope(strategy):
  """Where the trainer's dataset variables are created: mirrored onto every local device, but
  under multi_worker local to each worker (all hold the same data; the strategy would broadcast
  it from the chief, which its collectives cannot do for uint8 images)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return contextlib.nullcontext()
  return scope(strategy)


def synchronize_batch_norm(model):
  """Makes BatchNormalization layers compute batch statistics over the global batch (all
  replicas), as single-device training does; call before the model is traced."""
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  for layer in model.submodules:
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.synchronized = True


def replica_slice(batch, replica_context):
  """Rows [r * b/n, (r+1) * b/n) of a global batch: replica r's share of n replicas."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  replicas = replica_context.num_replicas_in_sync
  size = tf.shape(batch)[0] // replicas
  start = tf.cast(replica_context.replica_id_in_sync_group, tf.int32) * size
  return batch[start:start + size]
