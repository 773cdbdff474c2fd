"""Mid-run checkpoints: a TrainingState saved atomically to one .npz file, and loaded back.

A checkpoint holds every model and optimizer variable, the metric rows so far (with an
evaluation tracker's columns and state, if the run has one), the iteration and the run's initial
weights. Because minibatch order is a function of the iteration
(foundations.batching), continuing from it reproduces the uninterrupted run bit for bit.

A stop request (Ctrl-C or SIGTERM, see foundations.interrupts) makes a checkpoint due after the
current compiled chunk; once it is saved, the run ends with interrupts.Interrupted.
"""

import os
import sys

import numpy as np

from foundations import errors
from foundations import interrupts
from foundations import save_restore
from foundations import trainer as trainer_lib

DEFAULT_INTERVAL_SECONDS = 300.0


class Checkpointer:
  """Saves a TrainingState every `interval_iterations`, or every `interval_seconds` of work.

  Also saves one when a stop was requested, then raises interrupts.Interrupted.
  """

  def __init__(self, path, interval_iterations=0, interval_seconds=DEFAULT_INTERVAL_SECONDS):
    self.path = path
    self.interval_iterations = interval_iterations
    self.interval_seconds = interval_seconds
    self._last_iteration = 0
    self._last_seconds = 0.0

  def due(self, iteration, elapsed_seconds):
    if interrupts.requested() is not None:
      return True
    if self.interval_iterations:
      return iteration - self._last_iteration >= self.interval_iterations
    return elapsed_seconds - self._last_seconds >= self.interval_seconds

  def save(self, state):
    self._last_iteration, self._last_seconds = state.iteration, state.wall_seconds
    rows = np.array([[row[c] for c in trainer_lib.METRIC_COLUMNS] for row in state.rows],
                    dtype=np.float64).reshape(-1, len(trainer_lib.METRIC_COLUMNS))
    arrays = {'iteration': np.array(state.iteration), 'wall_seconds': np.array(
        state.wall_seconds), 'rows': rows,
              'interval': np.array(state.interval, dtype=np.float64).reshape(-1, 3)}
    extra = list(dict.fromkeys(c for row in state.rows for c in row
                               if c not in trainer_lib.METRIC_COLUMNS))
    if extra:  # a tracker's columns (e.g. mask_distance)
      arrays['tracker_columns'] = np.array(extra)
      arrays['tracker_rows'] = np.array([[row.get(c, np.nan) for c in extra] for row in state.rows],
                                        dtype=np.float64)
    arrays.update({f'tracker/{k}': v for k, v in state.tracker.items()})
    arrays.update({f'mask_updates/{k}': v for k, v in state.mask_updates.items()})
    arrays.update({f'initial/{k}': v for k, v in state.initial_weights.items()})
    arrays.update({f'variables/{k}': v for k, v in state.variables.items()})
    save_restore.save_arrays(self.path, arrays)
    interrupts.raise_if_requested(
        f'interrupted by {{signal}} at iteration {state.iteration}; checkpoint saved',
        state.iteration)

  def load(self):
    """The saved TrainingState, or None if there is no checkpoint file.

    A checkpoint is disposable: a file that is not a readable .npz (cut short by a crash or a
    full disk) is set aside (see set_aside) and None returned, so the run restarts from its
    beginning. A readable file that is not a training checkpoint is refused (UserInputError).
    """
    if not os.path.exists(self.path):
      return None
    try:
      arrays = save_restore.load_arrays(self.path)
    except errors.UserInputError as e:
      self.set_aside(e)
      return None
    return self._state(arrays)

  def set_aside(self, reason):
    """Renames the checkpoint out of the run's partial directory, with one warning line."""
    aside = f'{os.path.dirname(self.path)}.unreadable_{os.path.basename(self.path)}'
    os.replace(self.path, aside)
    print(f'warning: {reason}; set aside as {aside}, the run restarts from its beginning',
          file=sys.stderr, flush=True)

  def _state(self, arrays):
    try:
      rows = [dict(zip(trainer_lib.METRIC_COLUMNS, row)) for row in arrays['rows'].tolist()]
      if 'tracker_columns' in arrays:
        columns = [str(c) for c in arrays['tracker_columns'].tolist()]
        for row, values in zip(rows, arrays['tracker_rows'].tolist()):
          row.update(zip(columns, values))
      for row in rows:
        row['iteration'] = int(row['iteration'])
      state = trainer_lib.TrainingState(
          iteration=int(arrays['iteration']), rows=rows,
          wall_seconds=float(arrays['wall_seconds']),
          initial_weights={k[len('initial/'):]: v for k, v in arrays.items()
                           if k.startswith('initial/')},
          variables={k[len('variables/'):]: v for k, v in arrays.items()
                     if k.startswith('variables/')},
          interval=[(int(steps), loss, accuracy) for steps, loss, accuracy
                    in arrays.get('interval', np.zeros((0, 3))).tolist()],
          tracker=_prefixed(arrays, 'tracker/'), mask_updates=_prefixed(arrays, 'mask_updates/'))
    except (KeyError, ValueError, TypeError) as e:
      raise errors.UserInputError(f'{self.path}: not a training checkpoint ({e})') from None
    self._last_iteration, self._last_seconds = state.iteration, state.wall_seconds
    return state


def _prefixed(arrays, prefix):
  return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
