"""Locks that die with their process: a whole directory's, and one run's claim.

flock() locks are released by the kernel when the holding process exits for any reason,
SIGKILL included, so a crashed process never leaves a stale lock behind on its own machine.

A run is claimed with `RunClaim`: a file `.{run}.claim` beside the run directory, created
atomically (O_CREAT | O_EXCL) and holding the claimant's host, pid and start time, flock()ed
while the claimant works. On the claimant's machine a held flock means a live claimant; a claim
file whose flock is free was left by a dead process and is taken over. Processes on other
machines sharing the directory may not see each other's flocks (network filesystems differ),
so the claimant also refreshes the file's modification time every HEARTBEAT_SECONDS; a claim by
another host whose heartbeat is older than STALE_SECONDS is taken over.
"""

import fcntl
import json
import os
import socket
import threading
import time
import uuid

from foundations import errors

LOCK_FILE = '.lock'
HEARTBEAT_SECONDS = 30.0
# A claim by another machine whose heartbeat is older than this is stale (its claimant died).
STALE_SECONDS = float(os.environ.get('LOTTERY_CLAIM_STALE_SECONDS', 600))
_STARTING_SECONDS = 10.0  # an empty claim file younger than this is being written
_CONFIRM_SECONDS = 1.0  # after taking over another host's claim: re-read it after this long


class DirectoryLock:
  """Holds an exclusive lock on {directory}/.lock until release() or process exit."""

  def __init__(self, directory, flag='output_dir'):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, LOCK_FILE)
    self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(self._fd, 32, 0).decode(errors='replace').strip() or 'unknown'
      os.close(self._fd)
      raise errors.UserInputError(
          f'--{flag}={directory}: in use by another running experiment (pid {holder}); '
          'wait for it or use another directory') from None
    os.ftruncate(self._fd, 0)
    os.pwrite(self._fd, str(os.getpid()).encode(), 0)

  def release(self):
    if self._fd is not None:
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None


class RunClaimed(errors.UserInputError):
  """The run is claimed by a live process. Attributes: path (the run), holder (pid@host)."""

  def __init__(self, run_dir, holder):
    self.path = run_dir
    self.holder = holder
    super().__init__(f'{run_dir}: being trained by another process ({holder}); wait for it, '
                     'or run other trials or runs meanwhile')


def claim_path(run_dir):
  parent, name = os.path.split(os.path.normpath(run_dir))
  return os.path.join(parent, f'.{name}.claim')


def _holder_text(record):
  if not record:
    return 'a process starting up'
  return f'pid {record.get("pid")}@{record.get("host")}, since {record.get("started")}'


def _read(fd):
  try:
    return json.loads(os.pread(fd, 4096, 0).decode() or 'null')
  except ValueError:
    return None


class RunClaim:
  """An exclusive claim on one run directory, held until release() (or process death).

  Raises RunClaimed if a live process holds the run.
  """

  def __init__(self, run_dir):
    self.run_dir = run_dir
    self.path = claim_path(run_dir)
    self.token = uuid.uuid4().hex
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    self._fd = None
    while self._fd is None:
      self._fd = self._try_claim()
    self._stop = threading.Event()
    self._heartbeat = threading.Thread(target=self._beat, daemon=True)
    self._heartbeat.start()

  def _record(self):
    return {'host': socket.gethostname(), 'pid': os.getpid(), 'token': self.token,
            'started': time.strftime('%Y-%m-%d %H:%M:%S')}

  def _write(self, fd):
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(self._record()).encode(), 0)
    os.fsync(fd)

  def _try_claim(self):
    """The claim file's descriptor, flocked and ours; None to try again; or raises."""
    try:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
      pass
    else:
      fcntl.flock(fd, fcntl.LOCK_EX)  # others hold it only for a moment (they see it empty)
      self._write(fd)
      return fd
    try:
      fd = os.open(self.path, os.O_RDWR)
    except FileNotFoundError:  # released meanwhile
      return None
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # a live process on this machine (or one the filesystem shares)
      record = _read(fd)
      os.close(fd)
      raise RunClaimed(self.run_dir, _holder_text(record)) from None
    try:
      same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
    except FileNotFoundError:
      same_file = False
    if not same_file:  # released (unlinked) between our open and our flock
      os.close(fd)
      return None
    record = _read(fd)
    age = time.time() - os.fstat(fd).st_mtime
    local = isinstance(record, dict) and record.get('host') == socket.gethostname()
    if (not record and age < _STARTING_SECONDS) or (
        record and not local and age < STALE_SECONDS):
      os.close(fd)  # its claimant is alive (starting up, or on another machine)
      raise RunClaimed(self.run_dir, _holder_text(record))
    self._write(fd)  # the claimant died: take the run over
    if record and not local:  # another machine may be taking it over too: last writer wins
      time.sleep(_CONFIRM_SECONDS)
      now = _read(fd) or {}
      if now.get('token') != self.token:
        os.close(fd)
        raise RunClaimed(self.run_dir, _holder_text(now))
    return fd

  def _beat(self):
    while not self._stop.wait(HEARTBEAT_SECONDS):
      try:
        os.utime(self.path)
      except OSError:
        pass

  def release(self):
    """Deletes the claim file (if still ours) and unlocks it."""
    if self._fd is None:
      return
    self._stop.set()
    try:
      if (os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
          and (_read(self._fd) or {}).get('token') == self.token):
        os.remove(self.path)
    except OSError:
      pass
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)
    self._fd = None


def remove_abandoned_claim(run_dir):
  """Deletes the claim file of `run_dir` if its claimant is dead (e.g. killed after the run was
  recorded, before it released the claim); a live claimant's claim stays."""
  path = claim_path(run_dir)
  try:
    fd = os.open(path, os.O_RDWR)
  except FileNotFoundError:
    return
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(fd)
    return
  try:
    record = _read(fd)
    age = time.time() - os.fstat(fd).st_mtime
    local = isinstance(record, dict) and record.get('host') == socket.gethostname()
    if (local or age > STALE_SECONDS) and os.fstat(fd).st_ino == os.stat(path).st_ino:
      os.remove(path)
  except OSError:
    pass
  finally:
    os.close(fd)
