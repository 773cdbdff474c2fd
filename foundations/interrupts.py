"""Stopping on Ctrl-C (SIGINT) or SIGTERM without losing work and without a traceback.

Inside `handled()` both signals raise `Interrupted`, a KeyboardInterrupt (so `except Exception`
blocks let it through), at once: every file is written atomically and every run is assembled in
a partial directory, so any point outside training is a safe point to stop. Inside `deferred()`
(a training run) a signal is only recorded: the checkpointer (foundations.checkpointing) sees
the request after the current compiled chunk, saves a checkpoint and raises `Interrupted` with
the iteration, so the run resumes from exactly there. Cluster schedulers send SIGTERM some time
before they kill a job, which is why it is treated like Ctrl-C.
"""

import contextlib
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_requested = None  # the signal number of a pending stop request
_deferring = 0  # depth of deferred() blocks


class Interrupted(KeyboardInterrupt):
  """The program was asked to stop. str() is a description of where, for the user.

  Attributes:
    signal_number: SIGINT or SIGTERM.
    iteration: the training iteration at which a checkpoint was saved, if any.
  """

  def __init__(self, signal_number, message=None, iteration=None):
    self.signal_number = signal_number
    self.iteration = iteration
    super().__init__(message or f'interrupted by {self.signal_name} outside a training run; '
                     'finished runs are saved')

  @property
  def signal_name(self):
    return signal.Signals(self.signal_number).name

  @property
  def exit_status(self):
    """The shell's convention for death by a signal: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + self.signal_number


def _handle(signal_number, frame):
  del frame
  global _requested
  _requested = signal_number
  if not _deferring:
    raise Interrupted(signal_number)


@contextlib.contextmanager
def handled():
  """Within the block, SIGINT and SIGTERM raise Interrupted (or are deferred, see deferred())."""
  global _requested
  previous = {number: signal.signal(number, _handle) for number in SIGNALS}
  try:
    yield
  finally:
    for number, handler in previous.items():
      signal.signal(number, handler)
    _requested = None


def reinstall():
  """Inside handled(): puts its handlers back after a library replaced them (ray.init installs
  its own SIGINT and SIGTERM handlers)."""
  for number in SIGNALS:
    signal.signal(number, _handle)


@contextlib.contextmanager
def deferred():
  """Within the block (also usable as a decorator) a signal is recorded, not raised."""
  global _deferring
  _deferring += 1
  try:
    yield
  finally:
    _deferring -= 1


def requested():
  """The signal number of a pending stop request, or None."""
  return _requested


def raise_if_requested(message=None, iteration=None):
  """Raises Interrupted if a stop was requested; `message` may use {signal} for its name."""
  if _requested is not None:
    name = signal.Signals(_requested).name
    raise Interrupted(_requested, message and message.format(signal=name), iteration)
