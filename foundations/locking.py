"""One process per output directory: an advisory lock that dies with its process.

flock() locks are released by the kernel when the holding process exits for any reason,
SIGKILL included, so a crashed run never leaves a stale lock behind.
"""

import fcntl
import os

from foundations import errors

LOCK_FILE = '.lock'


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
