"""The paper's whole protocol in one command: every run of every trial, by worker processes.

  python -m lottery_ticket.sweep --network=lenet300_100 --output_dir=DIR --trials=1-5 \
      --levels=20 --reinit_trials=3 --random_prune_trials=1 --one_shot=51.3,21.1,7.0,3.6

plans the runs (per trial: lottery levels 0..L in order; at each --control_levels level, as soon
as its mask exists, --reinit_trials random reinitialisations and --random_prune_trials random
prunings; one-shot pruning to each --one_shot percentage once level 0 exists), runs them with
--workers worker processes (lottery_ticket.sweep_worker; each pinned to one GPU where there are
GPUs, --workers_per_gpu of them sharing each), prints progress (runs done / total, the running
ones, an ETA) and finally writes the analysis report into --report_dir (default
{output_dir}/report).

Runs already complete are skipped, so re-running the command resumes an interrupted sweep.
Every run is claimed by the process training it (foundations.locking.RunClaim), so the same
command started on several machines against one shared --output_dir divides the runs among
them: a run claimed elsewhere is retried later (or found complete). Workers' output goes to
{output_dir}/sweep_logs/. Nothing here imports TensorFlow; the workers do.
"""

import dataclasses
import os
import signal
import socket
import sys

from absl import app
from absl import flags

from foundations import console
from foundations import errors
from foundations import interrupts
from lottery_ticket import preflight
from lottery_ticket import runner
from lottery_ticket import sweep_plan
from lottery_ticket import sweep_ray
from lottery_ticket import sweep_scheduler
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import spec as spec_lib

FLAGS = flags.FLAGS
LOG_DIR = 'sweep_logs'


def network_packages():
  """The constants modules of every experiment package (imports no TensorFlow)."""
  # pylint: disable=g-import-not-at-top
  from cifar_conv import constants as cifar_constants
  from mnist_fc import constants as mnist_constants
  return (mnist_constants, cifar_constants)


def all_networks():
  """{name: NetworkSpec} of every experiment package (imports no TensorFlow)."""
  return {name: network for package in network_packages()
          for name, network in package.NETWORKS.items()}


def default_dataset(network):
  """The DEFAULT_DATASET of the experiment package that defines `network`."""
  return next(package.DEFAULT_DATASET for package in network_packages()
              if network in package.NETWORKS)


plan = sweep_plan.plan  # the names tests and callers know the sweep by
gpu_ids = sweep_scheduler.gpu_ids
default_workers = sweep_scheduler.default_workers


def _define_flags():
  """Defines the sweep's flags; returns --help's groups (runner.define_flags)."""
  groups = runner.define_flags('sweep', all_networks(), None)
  own = runner.flags_defined_by(_define_sweep_flags)
  return [(groups[0][0], groups[0][1] + own)] + groups[1:]


def _define_sweep_flags():
  flags.DEFINE_list('one_shot', [], 'One-shot pruning targets (percent remaining), '
                    'e.g. 51.3,21.1,7.0,3.6 (default: none).')
  flags.DEFINE_integer('reinit_trials', 0, 'Random reinitialisations per ticket (paper: 3).')
  flags.DEFINE_integer('random_prune_trials', 0, 'Random prunings per ticket.')
  flags.DEFINE_list('control_levels', None,
                    'Lottery levels that get controls (default: every level >= 1).')
  flags.DEFINE_list('prune_at_init', [], 'Pruning-at-initialization methods (snip, grasp, '
                    'synflow, magnitude, random), each at every --prune_at_init_remaining '
                    '(default: none).')
  flags.DEFINE_list('prune_at_init_remaining', ['51.3', '21.1', '7.0', '3.6'],
                    'Percent remaining of the --prune_at_init runs.')
  flags.DEFINE_list('sparse_training', [], 'Dynamic sparse training methods (rigl, set, '
                    'static; ERK and the runner\'s other defaults), each at every '
                    '--sparse_training_remaining (default: none).')
  flags.DEFINE_list('sparse_training_remaining', ['21.1', '7.0', '3.6', '1.2'],
                    'Percent remaining of the --sparse_training runs.')
  flags.DEFINE_enum('engine', 'local', ['local', 'ray'], 'Who runs the runs: local worker '
                    'processes (--workers), or Ray tasks on a Ray cluster (docs/sweep.md).')
  flags.DEFINE_integer('workers', None, 'Worker processes of --engine=local (default: the GPUs '
                       'x --workers_per_gpu; on a CPU one per 8 cores).')
  flags.DEFINE_integer('workers_per_gpu', 1, 'Worker processes of --engine=local sharing each '
                       'GPU, with memory growth on (small networks fill a GPU poorly).')
  flags.DEFINE_string('ray_address', None, '--engine=ray: the Ray cluster to join ("auto": the '
                      "one this machine belongs to; default: start a local Ray instance).")
  flags.DEFINE_float('cpus_per_run', 1.0, '--engine=ray: CPUs each run asks Ray for.')
  flags.DEFINE_float('gpus_per_run', 0.0, '--engine=ray: GPUs each run asks Ray for, '
                     'fractional to share one (0.25: four runs per GPU).')
  flags.DEFINE_string('report_dir', None, 'Where the report goes (default: {output_dir}/report).')


def _settings():
  """(config, tasks, workers, gpus, report_dir) from the flags, checked before anything runs."""
  if FLAGS.distribute != 'none':
    raise errors.UserInputError(
        f'--distribute={FLAGS.distribute}: the sweep trains many runs in parallel workers; '
        'distribute one large run with a single-run runner instead')
  if FLAGS.dataset is None:
    FLAGS.dataset = default_dataset(FLAGS.network)
  config = runner.config_from_flags('lottery', all_networks())
  config = dataclasses.replace(config, reinit_mode=FLAGS.reinit_mode)
  trials = runner.trials_from_flags()
  one_shot = spec_lib.parse_numbers('one_shot', FLAGS.one_shot, float)
  bad = [p for p in one_shot if not 0 < p <= 100]
  if bad:
    raise errors.UserInputError(f'--one_shot={",".join(FLAGS.one_shot)}: expected percentages '
                                'in (0, 100]')
  pai_methods, pai_percents = _methods_and_sizes('prune_at_init', catalog.PAI_METHODS)
  dst_methods, dst_percents = _methods_and_sizes('sparse_training', catalog.DST_METHODS)
  for name in ('reinit_trials', 'random_prune_trials'):
    if getattr(FLAGS, name) < 0:
      raise errors.UserInputError(f'--{name}={getattr(FLAGS, name)}: expected an integer >= 0')
  levels = range(1, config.levels + 1)
  control_levels = (tuple(levels) if FLAGS.control_levels is None
                    else spec_lib.parse_numbers('control_levels', FLAGS.control_levels, int))
  outside = [level for level in control_levels if level not in levels]
  if outside:
    raise errors.UserInputError(
        f'--control_levels={",".join(map(str, control_levels))}: expected levels in 1..'
        f'--levels={config.levels}')
  gpus = gpu_ids()
  workers = _worker_count(gpus)
  _check_engine_flags()
  if FLAGS.engine == 'ray':  # Ray's workers may start elsewhere: paths that mean the same there
    config = dataclasses.replace(config, output_dir=os.path.abspath(config.output_dir),
                                 dataset_path=config.dataset_path and os.path.abspath(
                                     config.dataset_path))
  for trial in trials:
    preflight.check(dataclasses.replace(config, trial=trial))
  preflight.load_dataset(config)  # the dataset is there and readable
  tasks = plan(config, trials, one_shot, FLAGS.reinit_trials, FLAGS.random_prune_trials,
               control_levels, pai_methods, pai_percents, dst_methods, dst_percents)
  for task in {task.spec['protocol']: task for task in tasks}.values():  # one per protocol
    catalog.task_config(config, task.spec).validate()  # e.g. what sparse training refuses
  report_dir = FLAGS.report_dir or os.path.join(config.output_dir, 'report')
  return config, tasks, workers, gpus, report_dir


def _methods_and_sizes(flag, known):
  """(methods, percents) of --{flag} and --{flag}_remaining, checked."""
  methods = tuple(getattr(FLAGS, flag))
  sizes = f'{flag}_remaining'
  percents = spec_lib.parse_numbers(sizes, getattr(FLAGS, sizes), float)
  if any(method not in known for method in methods):
    raise errors.UserInputError(f'--{flag}={",".join(methods)}: expected comma-separated '
                                f'values of {known}')
  if not all(0 < p <= 100 for p in percents) or (methods and not percents):
    raise errors.UserInputError(f'--{sizes}={",".join(getattr(FLAGS, sizes))}: expected '
                                'percentages in (0, 100]')
  return methods, percents


def _worker_count(gpus):
  """--workers, or GPUs x --workers_per_gpu (or one per 8 CPU cores), checked."""
  per_gpu = FLAGS.workers_per_gpu
  if per_gpu < 1:
    raise errors.UserInputError(f'--workers_per_gpu={per_gpu}: expected an integer >= 1')
  if FLAGS['workers_per_gpu'].present and not gpus:
    raise errors.UserInputError(
        f'--workers_per_gpu={per_gpu}: expected a machine with GPUs (CUDA_VISIBLE_DEVICES and '
        'nvidia-smi list none here); on a CPU, set --workers')
  workers = default_workers(gpus, per_gpu) if FLAGS.workers is None else FLAGS.workers
  if workers < 1:
    raise errors.UserInputError(f'--workers={workers}: expected an integer >= 1')
  return workers


def _check_engine_flags():
  local_only = ('workers', 'workers_per_gpu')
  ray_only = ('ray_address', 'cpus_per_run', 'gpus_per_run')
  for name in ray_only if FLAGS.engine == 'local' else local_only:
    if FLAGS[name].present:
      raise errors.UserInputError(f'--{name}={FLAGS[name].value}: not used by '
                                  f'--engine={FLAGS.engine}; expected it only with --engine='
                                  f'{"ray" if FLAGS.engine == "local" else "local"}')
  if FLAGS.cpus_per_run <= 0:
    raise errors.UserInputError(f'--cpus_per_run={FLAGS.cpus_per_run:g}: expected a number > 0')
  if FLAGS.gpus_per_run < 0:
    raise errors.UserInputError(f'--gpus_per_run={FLAGS.gpus_per_run:g}: expected a number >= 0')
  if FLAGS.engine == 'ray':
    sweep_ray.import_ray(own_instance=FLAGS.ray_address is None)
    sweep_ray.check_address(FLAGS.ray_address)


def _local_engine(config, count, gpus, log_dir, head):
  """The worker processes of --engine=local, announced in one line starting with `head`."""
  host = socket.gethostname()
  threads = None if gpus else max(1, (os.cpu_count() or 1) // count)
  where = f' on GPUs {",".join(gpus)}' if gpus else ''
  if count > len(gpus) > 0:
    where += f' (up to {-(-count // len(gpus))} per GPU, memory growth on)'
  print(f'{head}, {count} workers{where}; logs in {log_dir}', flush=True)
  environments = sweep_scheduler.worker_environments(count, gpus)
  return sweep_scheduler.LocalWorkers([sweep_scheduler.WorkerProcess(
      index, config, environments[index], threads,
      os.path.join(log_dir, f'{host}-{os.getpid()}-worker{index}.log'))
                                       for index in range(count)])


def _ray_engine(config, log_dir, head):
  """The Ray tasks of --engine=ray, on the cluster it joins or starts, announced in one line
  starting with `head`."""
  ray = sweep_ray.import_ray(own_instance=FLAGS.ray_address is None)
  dashboard = sweep_ray.start(ray, FLAGS.ray_address)
  engine = sweep_ray.RayRuns(ray, dataclasses.asdict(config), FLAGS.cpus_per_run,
                             FLAGS.gpus_per_run, log_dir)
  where = ('a local Ray instance' if FLAGS.ray_address is None
           else f'the Ray cluster at {FLAGS.ray_address}')
  print(f'{head}, as Ray tasks on {where}, {engine.capacity()} at a time '
        f'({FLAGS.cpus_per_run:g} CPUs, {FLAGS.gpus_per_run:g} GPUs each); dashboard '
        f'{dashboard or "none (pip install ray[default])"}; logs in {log_dir}', flush=True)
  return engine


def _stop_engine(engine, signal_number):
  if engine is not None:
    engine.stop(signal_number)


def main(argv):
  if len(argv) > 1:
    errors.exit_with_error(
        f'unexpected arguments {argv[1:]}; every setting is a --flag (see --helpfull)')
  engine = None
  with interrupts.handled():
    try:
      config, tasks, count, gpus, report_dir = _settings()
      log_dir = os.path.join(config.output_dir, LOG_DIR)
      head = (f'sweep: {len(tasks)} runs of {config.network} on {config.dataset} into '
              f'{config.output_dir}')
      if FLAGS.engine == 'ray':  # joined or started before anything is written
        engine = _ray_engine(config, log_dir, head)
      os.makedirs(log_dir, exist_ok=True)
      if FLAGS.engine == 'local':
        engine = _local_engine(config, count, gpus, log_dir, head)
      sweep = sweep_scheduler.Sweep(tasks, engine, FLAGS.progress_seconds)
      sweep.run()
      engine.finish()
      if sweep.done:
        # pylint: disable=g-import-not-at-top  (pandas and matplotlib: only now)
        from lottery_ticket.analysis import report
        written = report.write_report(config.output_dir, report_dir)
        print(f'sweep: report written to {written["report.md"]}', flush=True)
      if sweep.failed or len(sweep.done) < len(tasks):
        errors.exit_with_error(
            f'{len(tasks) - len(sweep.done)} of {len(tasks)} runs not done '
            f'({len(sweep.failed)} failed, the others need them); see the lines above')
    except errors.UserInputError as e:
      _stop_engine(engine, signal.SIGTERM)
      errors.exit_with_error(str(e))
    except OSError as e:
      _stop_engine(engine, signal.SIGTERM)
      errors.exit_with_error(errors.os_error_message(e, 'output_dir', FLAGS.output_dir or '.'))
    except KeyboardInterrupt as e:  # interrupts.Interrupted, or Ray's own from inside ray.wait
      if not isinstance(e, interrupts.Interrupted):
        number = interrupts.requested() or signal.SIGINT
        e = interrupts.Interrupted(number, f'interrupted by {signal.Signals(number).name}; the '
                                   "running runs' checkpoints are kept")
      _stop_engine(engine, e.signal_number)
      print(f'sweep: {e}; re-run the same command to resume', file=sys.stderr, flush=True)
      sys.exit(e.exit_status)


def run():
  app.run(main, flags_parser=console.parse_flags(_define_flags()))


if __name__ == '__main__':
  run()
