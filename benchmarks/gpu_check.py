"""One command to see that training runs on a GPU, how fast, and how far reruns there reproduce.

  python -m benchmarks.gpu_check --output_dir=OUT     (under 8 minutes on one GPU)

On generated data (lottery_ticket.datasets.synthetic), on the first GPU only:

  placement    each network's variables and a compiled training step's outputs are on /GPU:0
  training     steps/s of LeNet-300-100, Conv-2 and ResNet-20 (paper batch sizes, XLA as a run
               on a GPU has it) in float32, mixed_float16 and mixed_bfloat16: marginal, the
               same call at two lengths, extra steps over extra seconds
  sweep        a short LeNet lottery sweep with 1, 2 and 4 workers sharing the GPU
               (lottery_ticket.sweep --workers_per_gpu)
  determinism  a short LeNet lottery experiment, twice with --deterministic and once without,
               every result file compared bit for bit (lottery_ticket.analysis.result_files)

writes OUT/gpu_check.json and OUT/gpu_check.md (printed too) and exits 1 if a check fails.
Without a GPU it stops at once with one error line. --allow_cpu runs it on the CPU instead (the
sweep's workers are pinned to a GPU "0" they do not find) and --smoke makes everything tiny: a
seconds-long run of the whole pipeline, for tests.
"""

import os
import platform
import tempfile
import time

from absl import app
from absl import flags

from benchmarks import _experiments as experiments
from benchmarks import _gpu_report as gpu_report
from benchmarks import _timing as timing
from foundations import console
from foundations import errors
from lottery_ticket import config as config_lib
from lottery_ticket import sweep
from lottery_ticket import sweep_scheduler
from lottery_ticket.analysis import result_files

# Marginal timing lengths (iterations) per network on a GPU; --smoke: SMOKE_LENGTHS for all.
LENGTHS = {'lenet300_100': (500, 2500), 'conv2': (200, 1000), 'resnet20': (50, 250)}
SMOKE_LENGTHS = (2, 4)
LENET_RUN = 'mnist_fc.runners.lottery_experiment'

flags.DEFINE_string('output_dir', None, 'Where gpu_check.json and gpu_check.md go (required).')
flags.DEFINE_boolean('allow_cpu', False, 'Run on the CPU when there is no GPU (tests).')
flags.DEFINE_boolean('smoke', False, 'Tiny sizes, seconds long: checks the pipeline runs.')
flags.DEFINE_list('networks', list(experiments.NETWORKS),
                  'Networks whose training is timed.')
flags.DEFINE_list('precisions', list(config_lib.PRECISIONS), 'Precisions timed (--precision).')
flags.DEFINE_list('sweep_workers', ['1', '2', '4'], 'Sweep workers sharing the GPU, timed.')
flags.DEFINE_integer('repeats', 2, 'Timings per length (the median is used).')
FLAGS = flags.FLAGS


def _check_flags(argv):
  """Exits with one error line on a bad flag or without a GPU, before TensorFlow is imported;
  returns (sweep worker counts, the GPU to use: '0' stands in on a CPU)."""
  errors.check_command_line(argv, required=('output_dir',))
  try:
    config_lib.check_writable(FLAGS.output_dir)
  except errors.UserInputError as e:
    errors.exit_with_error(str(e))
  timing.check_choices('networks', FLAGS.networks, experiments.NETWORKS)
  timing.check_choices('precisions', FLAGS.precisions, config_lib.PRECISIONS)
  if not all(v.isdigit() and int(v) >= 1 for v in FLAGS.sweep_workers) or FLAGS.repeats < 1:
    errors.exit_with_error(f'--sweep_workers={",".join(FLAGS.sweep_workers)} --repeats='
                           f'{FLAGS.repeats}: expected integers >= 1')
  gpus = sweep_scheduler.gpu_ids()
  if not gpus and not FLAGS.allow_cpu:
    errors.exit_with_error('no GPU here (CUDA_VISIBLE_DEVICES and nvidia-smi list none): '
                           'gpu_check needs one; --allow_cpu runs it on the CPU')
  return [int(v) for v in FLAGS.sweep_workers], (gpus[0] if gpus else '0')


def _datasets(directory, smoke):
  """{dataset name: generated files' directory}, and the validation split size."""
  if smoke:
    return experiments.generated_datasets(directory, (400, 100), (200, 40)), 40
  return experiments.generated_datasets(directory, (12_000, 2_000), (10_000, 2_000)), 1_000


def _placement(experiment, device, steps):
  """The devices holding the model's variables and a compiled call's outputs (`steps` steps:
  a call the timing traces anyway)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  trainer = experiment.trainer
  steps = min(steps, trainer.max_chunk_iterations)
  outputs = trainer.train_steps(tf.constant(experiment.batch_order().indices(0, steps)),
                                tf.constant(0, tf.int64))
  found = {'variables': sorted({v.device for v in experiment.model.variables}),
           'step_outputs': sorted({t.device for t in outputs})}
  return dict(found, on_device=all(d.endswith(device) for ds in found.values() for d in ds))


def _training(data, validation_size, output_dir, device):
  """{network: {'placement', 'batch_size', 'jit_compile', precision: steps/s or None}}."""
  results = {}
  for name in FLAGS.networks:
    results[name] = entry = {'batch_size': sweep.all_networks()[name].hyperparameters.batch_size}
    for precision in FLAGS.precisions:
      lengths = SMOKE_LENGTHS if FLAGS.smoke else LENGTHS[name]
      entry[precision] = None
      try:
        experiment = experiments.experiment(name, precision, data, validation_size, output_dir)
        if 'placement' not in entry:
          entry['placement'] = _placement(experiment, device, lengths[0])
        entry['jit_compile'] = experiment.config.jit_compile
        entry[precision] = timing.marginal_steps_per_second(experiments.train_run(experiment),
                                                            *lengths, FLAGS.repeats)
        del experiment  # its data on the device, before the next one's
      except Exception as e:  # pylint: disable=broad-except  (a diagnosis: report it, go on)
        entry.setdefault('errors', {})[precision] = _first_line(e)
  return results


def _first_line(error):
  text = str(error).strip()
  return f'{type(error).__name__}: {text.splitlines()[0] if text else ""}'


def _lenet_flags(data, validation_size, smoke):
  iterations = 20 if smoke else 1000
  return [f'--dataset_path={data["mnist"]}', f'--training_iterations={iterations}',
          f'--eval_interval={iterations // 2}', f'--validation_size={validation_size}',
          '--progress_seconds=1000']


def _sweep(data, validation_size, directory, worker_counts, gpu):
  """{workers per GPU: seconds} of one LeNet lottery sweep each, on GPU `gpu`."""
  trials, levels = (1, 0) if FLAGS.smoke else (4, 1)
  common = _lenet_flags(data, validation_size, FLAGS.smoke) + [
      f'--trials=1-{trials}', f'--levels={levels}', '--network=lenet300_100']
  seconds = {count: timing.run_module_seconds('lottery_ticket.sweep', common + [
      f'--output_dir={directory}/sweep{count}', f'--workers_per_gpu={count}'],
                                              env={'CUDA_VISIBLE_DEVICES': gpu})
             for count in worker_counts}
  return {'runs': trials * (levels + 1), 'seconds': seconds}


def _determinism(data, validation_size, directory, gpu):
  """The result files of two --deterministic runs and one without, compared (run at once)."""
  args = _lenet_flags(data, validation_size, FLAGS.smoke) + ['--levels=1']
  runs = {name: f'{directory}/{name}' for name in ('default', 'deterministic', 'rerun')}
  timing.run_modules([(LENET_RUN, args + [f'--output_dir={out}'] + (
      [] if name == 'default' else ['--deterministic'])) for name, out in runs.items()],
                     env={'CUDA_VISIBLE_DEVICES': gpu, 'TF_FORCE_GPU_ALLOW_GROWTH': 'true'})
  files = len(result_files.read(runs['deterministic']))
  return {'files': files,
          'deterministic_reruns': result_files.differences(runs['deterministic'], runs['rerun']),
          'without_and_with': result_files.differences(runs['default'], runs['deterministic'])}


def _timed(report, part, function, *args):
  """report[part] = function(*args), or {'error': what failed}; its seconds in 'seconds'."""
  start = time.perf_counter()
  try:
    report[part] = function(*args)
  except RuntimeError as e:  # a command failed (its stderr's end): report it, go on
    report[part] = {'error': str(e)}
  report['seconds'][part] = time.perf_counter() - start


def main(argv):
  worker_counts, gpu = _check_flags(argv)
  # One GPU, shared with the sweep's and the runs' processes: memory growth on.
  os.environ.update(CUDA_VISIBLE_DEVICES=gpu, TF_FORCE_GPU_ALLOW_GROWTH='true')
  console.quiet_logs()
  tf = console.import_tensorflow()  # after the checks above
  console.quiet_python_logs()  # e.g. the retracing warnings of the two timed lengths
  devices = tf.config.list_physical_devices('GPU')
  if not devices and not FLAGS.allow_cpu:
    errors.exit_with_error(f'GPU {gpu} is listed but TensorFlow finds none: is this '
                           'TensorFlow built with CUDA? (pip install "tensorflow[and-cuda]")')
  device = 'GPU:0' if devices else 'CPU:0'
  name = (tf.config.experimental.get_device_details(devices[0]).get('device_name', 'a GPU')
          if devices else f'{platform.processor() or platform.machine()} CPU')
  report = {'device': name, 'expected_device': device, 'smoke': FLAGS.smoke,
            'machine': timing.machine(),
            'tensorflow': tf.__version__, 'precisions': FLAGS.precisions, 'seconds': {}}
  with tempfile.TemporaryDirectory() as directory:
    data, validation_size = _datasets(f'{directory}/data', FLAGS.smoke)
    _timed(report, 'training', _training, data, validation_size, f'{directory}/unused', device)
    _timed(report, 'sweep', _sweep, data, validation_size, directory, worker_counts, gpu)
    _timed(report, 'determinism', _determinism, data, validation_size, directory, gpu)
  report['checks'] = gpu_report.checks(report)
  timing.write_json(report, os.path.join(FLAGS.output_dir, 'gpu_check.json'))
  text = gpu_report.markdown(report)
  with open(os.path.join(FLAGS.output_dir, 'gpu_check.md'), 'w') as f:
    f.write(text)
  print(text, end='')
  if not all(report['checks'].values()):
    raise SystemExit(1)


if __name__ == '__main__':
  app.run(main, flags_parser=errors.parse_flags)
