"""A sweep worker process: runs the tasks lottery_ticket.sweep sends it, one at a time.

The worker reads JSON lines on stdin: first {'config': ExperimentConfig fields, 'threads': n},
then one task per line ({'id', 'protocol', 'trial', 'level', 'percent', 'control_trial'}).
For each it answers one JSON line on its original stdout (`run_task`'s answer). Everything the
runs print goes to stderr (the sweep's log file). One Experiment, with its compiled trainer,
serves every task (Experiment.reconfigure), so tasks after the first pay no TensorFlow start-up
or tracing. The Ray engine (lottery_ticket.sweep_ray) runs tasks through the same Worker.
"""

import json
import os
import sys
import time

from foundations import determinism
from foundations import errors
from foundations import interrupts
from lottery_ticket import config as config_lib
from lottery_ticket import preflight
from lottery_ticket.protocols import catalog


task_config = catalog.task_config


def config_from_json(values):
  return config_lib.ExperimentConfig(**{
      name: tuple(value) if isinstance(value, list) else value for name, value in values.items()})


class Worker:
  """Runs tasks in one Experiment, reconfigured per task; the dataset of the last trial cached."""

  def __init__(self, base, spec):
    self.base = base
    self.spec = spec
    self.experiment = None
    self._dataset = None  # (trial, Dataset)

  def run(self, task):
    """Runs `task`; False if its run was found recorded (by another process)."""
    # pylint: disable=g-import-not-at-top  (TensorFlow: imported by main before the first task)
    from lottery_ticket import experiment as experiment_lib
    from lottery_ticket.protocols import spec as spec_lib
    config = task_config(self.base, task)
    preflight.check(config)
    if self._dataset is None or self._dataset[0] != config.trial:
      self._dataset = (config.trial, preflight.load_dataset(config))
    dataset = self._dataset[1]
    if self.experiment is None:
      self.experiment = experiment_lib.Experiment(config, self.spec, dataset)
    else:
      self.experiment = self.experiment.reconfigure(config, dataset)
    trained = self.experiment.trained_runs
    spec_lib.resolve(catalog.get(config.protocol).entry_point)(self.experiment)
    return self.experiment.trained_runs > trained


def run_task(worker, task):
  """Runs `task` in `worker`; its answer: {'id', 'status', 'message', 'seconds'}.

  The status is 'done', 'found' (recorded by another process meanwhile), 'claimed' (a live
  process holds the run) or 'failed' (with the one-line message a runner would print).
  """
  # pylint: disable=g-import-not-at-top  (TensorFlow: imported before the first task)
  from foundations import locking
  start = time.monotonic()
  status, message = 'done', ''
  try:
    if not worker.run(task):
      status = 'found'
  except locking.RunClaimed as e:
    status, message = 'claimed', e.holder
  except errors.TrainingDivergedError as e:
    status, message = 'failed', f'training diverged: {e}'
  except errors.UserInputError as e:
    status, message = 'failed', str(e)
  except OSError as e:
    status, message = 'failed', errors.os_error_message(e, 'output_dir', worker.base.output_dir)
  return {'id': task['id'], 'status': status, 'message': message,
          'seconds': time.monotonic() - start}


def start_worker(config_values, threads):
  """A Worker for the sweep's config (its fields, as sent), in a process whose TensorFlow
  uses `threads` CPU threads (None: its default). Imports TensorFlow; before its first op."""
  if config_values.get('deterministic'):  # XLA reads its flags once: before TensorFlow
    determinism.request_xla_determinism()
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from lottery_ticket import sweep
  if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
  base = config_from_json(config_values)
  return Worker(base, sweep.all_networks()[base.network])


def main():
  answers = os.fdopen(os.dup(1), 'w')
  os.dup2(2, 1)  # the runs' output goes to the log; stdout carries only the answers
  sys.stdout = os.fdopen(1, 'w', buffering=1)
  setup = json.loads(sys.stdin.readline())
  worker = start_worker(setup['config'], setup.get('threads'))
  with interrupts.handled():
    try:
      for line in sys.stdin:
        answers.write(json.dumps(run_task(worker, json.loads(line))) + '\n')
        answers.flush()
    except interrupts.Interrupted as e:
      print(f'{e}', file=sys.stderr, flush=True)
      sys.exit(e.exit_status)


if __name__ == '__main__':
  main()
