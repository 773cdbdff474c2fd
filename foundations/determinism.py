"""--deterministic: deterministic kernels, so that a rerun on a GPU is bit for bit the first run.

On a CPU the trainer's runs are bit-exact already. On a GPU, TensorFlow and XLA pick fast kernels
whose summation order varies from run to run (atomic adds, autotuned algorithms). `enable()` asks
both for deterministic ones: TensorFlow's op determinism and XLA's GPU flag. XLA reads XLA_FLAGS
once, at its first compilation, so `request_xla_determinism()` runs before TensorFlow is imported
where it can (runners, sweep workers). An op without a deterministic kernel raises when it first
runs; `probe()` runs one training step and one evaluation at set-up, so that happens before
anything is written. Nothing here imports TensorFlow until it is called.
"""

import os
import re

from foundations import console
from foundations import errors

XLA_FLAG = '--xla_gpu_deterministic_ops=true'
_NODE = re.compile(r'\{\{node ([^}]+)\}\}')


def request_xla_determinism(environ=os.environ):
  """Appends XLA's GPU determinism flag to XLA_FLAGS in `environ` (once)."""
  flags = environ.get('XLA_FLAGS', '').split()
  if XLA_FLAG not in flags:
    environ['XLA_FLAGS'] = ' '.join(flags + [XLA_FLAG])


def enable():
  """Deterministic kernels from now on in this process (it cannot be turned off again)."""
  request_xla_determinism()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.experimental.enable_op_determinism()


def refusal(message, jit_compile):
  """The one-line error for TensorFlow's `message` refusing an op under op determinism."""
  node = _NODE.search(message)
  op = f' (op {node.group(1).rsplit("/", 1)[-1]})' if node else ''
  first = message.strip().splitlines()[0].strip() if message.strip() else 'no reason given'
  fix = 'run without --deterministic'
  if jit_compile:
    fix += ", or with --nojit_compile (TensorFlow's own kernels instead of XLA's)"
  return (f'--deterministic: TensorFlow has no deterministic kernel for a step of this '
          f'network{op}: "{first}"; {fix}')


def probe(trainer, batch_indices, jit_compile):
  """Runs one compiled training step on `batch_indices` ([1, batch]) and one evaluation of the
  validation split, then puts back every variable they touched (weights, masks, BatchNorm
  statistics, optimizer step, slots, learning rate and loss scale, dropout generators), so what
  trains next is bit for bit what it would have been without the probe.

  Raises:
    errors.UserInputError: an op of the step has no deterministic kernel (refusal's line).
  """
  # pylint: disable=g-import-not-at-top  (TensorFlow: only when called)
  import tensorflow as tf
  from foundations import model_state
  from foundations import optimizers
  touched = (list(trainer.model.variables) + optimizers.owned_variables(trainer.optimizer) +
             model_state.random_states(trainer.model))
  kept = [variable.numpy() for variable in touched]
  try:
    with console.notices_dropped():  # TensorFlow's own log line of a refusal
      trainer.train_steps(tf.constant(batch_indices), tf.constant(0, tf.int64))
      trainer.evaluate('validation')
  except tf.errors.UnimplementedError as e:
    raise errors.UserInputError(refusal(e.message, jit_compile)) from None
  finally:
    for variable, value in zip(touched, kept):
      variable.assign(value)
