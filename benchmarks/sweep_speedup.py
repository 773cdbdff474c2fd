"""Wall time of a small LeNet protocol with lottery_ticket.sweep at --workers=1 and --workers=2,
and the per-trial start-up (TensorFlow import, data to device, tracing) that --trials saves.

Runs on generated MNIST-format data (lottery_ticket.datasets.synthetic) by default:

  sweep          --trials=1-{trials} --levels={levels-1}: trials x levels lottery runs, timed
                 with --workers=1 and --workers=2 (each from an empty output directory)
  ray            the same sweep with --engine=ray (a Ray instance of its own, --cpus_per_run=1:
                 as many runs at once as --workers=2 on 2 cores, one thread each), Ray's own
                 start-up and shutdown alone, and what is left per run:
                 (ray - workers_2 - start-up) / runs
  trials         mnist_fc lottery_experiment --trials=1-N in one process, against N separate
                 --trial processes; saved per trial = (separate - together) / (N - 1)

Writes benchmarks/sweep_speedup.json. On a machine with few cores two workers share them, so
the speed-up says more about start-up and Python overhead than about hardware left idle.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from benchmarks import _timing as timing
from foundations import errors
from lottery_ticket.datasets import synthetic

flags.DEFINE_integer('trials', 2, 'Trials of the protocol.', lower_bound=1)
flags.DEFINE_integer('levels', 3, 'Lottery levels per trial (level 0 included).', lower_bound=1)
flags.DEFINE_integer('iterations', 300, 'Training iterations per run.', lower_bound=1)
flags.DEFINE_integer('train_size', 2000, 'Generated training examples.', lower_bound=1)
flags.DEFINE_string('output', 'benchmarks/sweep_speedup.json', 'Where to write the JSON.')
FLAGS = flags.FLAGS
_timed = timing.run_module_seconds


RAY_START_AND_STOP = ("import logging, ray; ray.init(log_to_driver=False, "
                      "logging_level=logging.ERROR, dashboard_host='127.0.0.1', "
                      "_node_ip_address='127.0.0.1'); ray.shutdown()")


def _ray(sweep_args, workers_2_seconds, runs):
  """The --engine=ray figures, or {} without Ray."""
  if importlib.util.find_spec('ray') is None:
    return {}
  start = time.perf_counter()
  subprocess.run([sys.executable, '-c', RAY_START_AND_STOP], check=True, capture_output=True,
                 env=dict(os.environ, RAY_USAGE_STATS_ENABLED='0', RAY_AUTH_MODE='token'))
  startup = time.perf_counter() - start
  seconds = _timed('lottery_ticket.sweep', sweep_args + ['--engine=ray', '--cpus_per_run=1'])
  return {'sweep_ray_seconds': seconds, 'ray_start_and_stop_seconds': startup,
          'ray_overhead_per_run_seconds': (seconds - workers_2_seconds - startup) / runs}


def main(argv):
  errors.check_command_line(argv)
  with tempfile.TemporaryDirectory() as tmp:
    data = synthetic.make_idx_dataset(os.path.join(tmp, 'data'), train_size=FLAGS.train_size)
    common = [f'--dataset_path={data}', f'--training_iterations={FLAGS.iterations}',
              '--eval_interval=100', '--validation_size=200', '--batch_size=60',
              f'--levels={FLAGS.levels - 1}', '--progress_seconds=1000']
    trials = f'1-{FLAGS.trials}'
    report = {'machine': timing.machine(),
              'runs': FLAGS.trials * FLAGS.levels, 'iterations': FLAGS.iterations}
    for workers in (1, 2):
      report[f'sweep_workers_{workers}_seconds'] = _timed('lottery_ticket.sweep', common + [
          f'--output_dir={tmp}/sweep{workers}', f'--trials={trials}', f'--workers={workers}'])
    report['sweep_speedup'] = (report['sweep_workers_1_seconds']
                               / report['sweep_workers_2_seconds'])
    report.update(_ray(common + [f'--output_dir={tmp}/ray', f'--trials={trials}'],
                       report['sweep_workers_2_seconds'], report['runs']))
    runner = 'mnist_fc.runners.lottery_experiment'
    report['trials_together_seconds'] = _timed(runner, common + [
        f'--output_dir={tmp}/together', f'--trials={trials}'])
    report['trials_separate_seconds'] = sum(
        _timed(runner, common + [f'--output_dir={tmp}/separate', f'--trial={trial}'])
        for trial in range(1, FLAGS.trials + 1))
    report['startup_saved_per_trial_seconds'] = (
        (report['trials_separate_seconds'] - report['trials_together_seconds'])
        / max(1, FLAGS.trials - 1))
  timing.write_json(report, FLAGS.output)
  print(json.dumps(report, indent=2))


if __name__ == '__main__':
  app.run(main, flags_parser=errors.parse_flags)
