"""A sweep worker process: runs the tasks lottery_ticket.sweep sends it, one at a time.

The worker reads JSON lines on stdin: first {'config': ExperimentConfig fields, 'threads': n},
then one task per line ({'id', 'protocol', 'trial', 'level', 'percent', 'control_trial'}).
For each it answers one JSON line on its original stdout: {'id', 'status': 'done', 'found' (recorded by
another process meanwhile), 'claimed' (a live process holds the run) or 'failed', 'message',
'seconds'}. Everything the runs print goes
to stderr (the sweep's log file). One Experiment, with its compiled trainer, serves every task
(Experiment.reconfigure), so tasks after the first pay no TensorFlow start-up or tracing.
"""

import json
import os
import sys
import time

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


def _answer(stream, task, status, message='', seconds=0.0):
  stream.write(json.dumps({'id': task['id'], 'status': status, 'message': message,
                           'seconds': seconds}) + '\n')
  stream.flush()


def main():
  answers = os.fdopen(os.dup(1), 'w')
  os.dup2(2, 1)  # the runs' output goes to the log; stdout carries only the answers
  sys.stdout = os.fdopen(1, 'w', buffering=1)
  setup = json.loads(sys.stdin.readline())
  base = config_from_json(setup['config'])
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from foundations import locking
  from lottery_ticket import sweep
  if setup.get('threads'):
    tf.config.threading.set_intra_op_parallelism_threads(setup['threads'])
    tf.config.threading.set_inter_op_parallelism_threads(min(2, setup['threads']))
  worker = Worker(base, sweep.all_networks()[base.network])
  with interrupts.handled():
    try:
      for line in sys.stdin:
        task = json.loads(line)
        start = time.monotonic()
        try:
          trained = worker.run(task)
        except locking.RunClaimed as e:
          _answer(answers, task, 'claimed', e.holder)
          continue
        except errors.TrainingDivergedError as e:
          _answer(answers, task, 'failed', f'training diverged: {e}')
          continue
        except errors.UserInputError as e:
          _answer(answers, task, 'failed', str(e))
          continue
        except OSError as e:
          _answer(answers, task, 'failed', errors.os_error_message(e, 'output_dir',
                                                                   base.output_dir))
          continue
        _answer(answers, task, 'done' if trained else 'found', seconds=time.monotonic() - start)
    except interrupts.Interrupted as e:
      print(f'{e}', file=sys.stderr, flush=True)
      sys.exit(e.exit_status)


if __name__ == '__main__':
  main()
