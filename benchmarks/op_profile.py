"""Where a training step's time goes, by TensorFlow op type, per --precision (tf.profiler).

Builds each network as its runner does (as benchmarks.precision_throughput does), but always
without XLA (an XLA cluster shows as compiled HLO, not as TensorFlow ops), on small generated
data, traces one warm-up call of --iterations training iterations, then profiles a
second identical call with tf.profiler and sums the executor's op events per op type, split into
training and the evaluation that ends the call (by the time spans of the compiled training and
evaluation functions). Seconds per training iteration; op times on the executor's threads, so
ops that overlap count in full. A profile, not a throughput: the benchmarks time speed.

  python -m benchmarks.op_profile [--networks=resnet20] [--precisions=float32,mixed_bfloat16]
      [--iterations=10] [--top=15] [--smoke]
"""

import collections
import glob
import tempfile

from absl import app
from absl import flags

from benchmarks import _experiments as experiments
from benchmarks import _timing as timing
from foundations import console
from foundations import errors
from lottery_ticket import config as config_lib

_TRAINING_FUNCTION = '__inference_steps'  # the compiled loop of training steps (train_step.py)
_EVALUATION_FUNCTION = '__inference__evaluate_fn'  # evaluation.Evaluator's compiled pass

flags.DEFINE_list('networks', ['resnet20'], 'Networks to profile.')
flags.DEFINE_list('precisions', ['float32', 'mixed_bfloat16'], 'Precisions to profile.')
flags.DEFINE_integer('iterations', 10, 'Training iterations of the profiled call.', lower_bound=1)
flags.DEFINE_integer('top', 15, 'Op types printed per network (the JSON has all).', lower_bound=1)
flags.DEFINE_boolean('smoke', False, 'Tiny sizes, seconds long: checks the benchmark runs.')
flags.DEFINE_string('output', 'benchmarks/op_profile.json', 'Where to write the JSON.')
FLAGS = flags.FLAGS


def op_seconds(logdir):
  """{'training': {op type: seconds}, 'evaluation': {...}} from the profile under `logdir`."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  space = xplane_pb2.XSpace()
  with open(glob.glob(f'{logdir}/**/*.xplane.pb', recursive=True)[0], 'rb') as f:
    space.ParseFromString(f.read())
  functions, ops = [], []  # (start, end, name) of function calls; (start, duration, op type)
  for plane in space.planes:
    names = {key: meta.name for key, meta in plane.event_metadata.items()}
    for line in plane.lines:
      for event in line.events:
        name = names.get(event.metadata_id, '')
        start = line.timestamp_ns * 1000 + event.offset_ps
        kind = name.rsplit(':', 1)[-1].split('#')[0]
        if _TRAINING_FUNCTION in kind or _EVALUATION_FUNCTION in kind:
          functions.append((start, start + event.duration_ps, kind))
        elif (line.name.startswith('tf_Compute') and ':' in name and '::' not in name
              and kind.isidentifier()):
          ops.append((start, event.duration_ps, kind))
  totals = {'training': collections.Counter(), 'evaluation': collections.Counter()}
  for start, duration_ps, kind in ops:
    part = next((('evaluation' if _EVALUATION_FUNCTION in f else 'training')
                 for begin, end, f in functions if begin <= start < end), 'training')
    totals[part][kind] += duration_ps / 1e12
  return {part: dict(counter) for part, counter in totals.items()}


def profile(experiment, iterations, logdir):
  """Op seconds per training iteration of one profiled training call (after a warm-up call)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  run = experiments.train_run(experiment)
  run(iterations)  # traces and warms up at the profiled length
  tf.profiler.experimental.start(logdir)
  run(iterations)
  tf.profiler.experimental.stop()
  return {part: {kind: seconds / iterations for kind, seconds in sorted(
      totals.items(), key=lambda item: -item[1])} for part, totals in op_seconds(logdir).items()}


def main(argv):
  errors.check_command_line(argv)
  timing.check_choices('networks', FLAGS.networks, experiments.NETWORKS)
  timing.check_choices('precisions', FLAGS.precisions, config_lib.PRECISIONS)
  console.quiet_python_logs()
  iterations = 2 if FLAGS.smoke else FLAGS.iterations
  report = {'machine': timing.machine(), 'iterations': iterations, 'jit_compile': False,
            'smoke': FLAGS.smoke, 'networks': {}}
  with tempfile.TemporaryDirectory() as directory:
    data = experiments.generated_datasets(directory, (400, 100) if FLAGS.smoke else (2000, 500),
                                          (200, 40) if FLAGS.smoke else (5000, 1000))
    for network in FLAGS.networks:
      report['networks'][network] = {
          p: profile(experiments.experiment(network, p, data, 40 if FLAGS.smoke else 500,
                                            f'{directory}/unused_{network}_{p}',
                                            jit_compile=False),
                     iterations, f'{directory}/profile_{network}_{p}')
          for p in FLAGS.precisions}
  timing.write_json(report, FLAGS.output)
  print_table(report, FLAGS.top)


def print_table(report, top):
  print(f'machine: {report["machine"]}; op seconds per training iteration, one profiled call '
        f'of {report["iterations"]} iterations without XLA (its closing evaluation apart)')
  for network, by_precision in report['networks'].items():
    precisions = list(by_precision)
    print(f'\n{network}\n| part | op type | ' + ' | '.join(precisions) + ' |')
    print('|---|---|' + '---|' * len(precisions))
    for part in ('training', 'evaluation'):
      seconds = [by_precision[p][part] for p in precisions]
      kinds = sorted(set().union(*seconds), key=lambda k: -sum(s.get(k, 0.0) for s in seconds))
      for kind in kinds[:top]:
        print(f'| {part} | {kind} | ' + ' | '.join(f'{s.get(kind, 0.0):.4f}' for s in seconds)
              + ' |')
      print(f'| {part} | all ops | ' + ' | '.join(f'{sum(s.values()):.4f}' for s in seconds)
            + ' |')


if __name__ == '__main__':
  app.run(main, flags_parser=errors.parse_flags)
