"""Training and evaluation speed per --precision: float32 against mixed_bfloat16 (and float16).

Each network is built as its runner builds it (lottery_ticket Experiment: paper batch size,
optimizer, BatchNorm and weight decay, the XLA default, the precision policy) on generated data
of its real shapes (LeNet 55K/5K/10K, CIFAR 45K/5K/10K), once per precision, in one process.
Training steps/s are marginal (the same call at two lengths) and interleaved across precisions
and networks in each of --repeats rounds (each length timed --tries times, the fastest kept), so
the speed-up is taken within a round and every figure's rounds span the whole run; an
evaluation of validation + test (15,000 images) is timed in every round too (fastest of
--tries). Median (min–max) over the rounds.

  python -m benchmarks.precision_throughput [--networks=lenet300_100,conv2,resnet20]
      [--precisions=float32,mixed_bfloat16] [--repeats=5] [--tries=2]
      [--history='EARLIER*.json'] [--smoke]

With --history, each figure is also printed with its band across the earlier runs on this
machine (benchmarks._across_runs).
"""

import tempfile

from absl import app
from absl import flags

from benchmarks import _across_runs as across_runs
from benchmarks import _experiments as experiments
from benchmarks import _timing as timing
from foundations import console
from foundations import errors
from lottery_ticket import config as config_lib

# Marginal lengths (iterations): a few seconds of extra time each on a 2-core CPU.
LENGTHS = {'lenet300_100': (1000, 3000), 'conv2': (20, 80), 'resnet20': (10, 50)}
SMOKE_LENGTHS = (2, 4)
TARGET_SPEEDUP = {'conv2': 1.5, 'resnet20': 1.5}  # mixed_bfloat16 over float32, the goal

flags.DEFINE_list('networks', list(experiments.NETWORKS), 'Networks to time.')
flags.DEFINE_list('precisions', ['float32', 'mixed_bfloat16'], 'Precisions to time; the first '
                  'is the baseline of the speed-ups.')
flags.DEFINE_list('lengths', None, 'short,long: the timed lengths (iterations) of every network '
                  '(default: LENGTHS, a few seconds each in float32 on a 2-core CPU).')
timing.define_round_flags()
across_runs.define_history_flag()
flags.DEFINE_boolean('smoke', False, 'Tiny sizes, seconds long: checks the benchmark runs.')
flags.DEFINE_string('output', 'benchmarks/precision_throughput.json', 'Where to write the JSON.')
FLAGS = flags.FLAGS


def measure(networks, precisions, data, validation_size, directory, lengths, repeats, tries):
  """{network: {'precisions': {precision: {'train_steps_per_second', 'eval_seconds'}},
  'train_speedup', 'eval_speedup': {precision: ...}, ...}}.

  Every round times every network in every precision, training then evaluation, so each
  figure's rounds span the whole run and its spread includes the machine's changes of speed
  over that time (docs/performance.md, "What the spread leaves out")."""
  built = {(n, p): experiments.experiment(n, p, data, validation_size, directory)
           for n in networks for p in precisions}
  rates, eval_seconds = timing.interleaved_rounds(
      {key: (experiments.train_run(e), *lengths[key[0]]) for key, e in built.items()},
      {key: experiments.evaluate_run(e) for key, e in built.items()}, repeats, tries)
  baseline = precisions[0]
  results = {}
  for n in networks:
    rate = {p: rates[n, p] for p in precisions}
    evaluation = {p: eval_seconds[n, p] for p in precisions}
    results[n] = {
        'lengths': lengths[n], 'batch_size': built[n, baseline].config.batch_size,
        'jit_compile': built[n, baseline].config.jit_compile,
        'precisions': {p: {'compute_dtype': experiments.compute_dtype(built[n, p]),
                           'train_steps_per_second': timing.spread(rate[p]),
                           'eval_seconds': timing.spread(evaluation[p])} for p in precisions},
        'train_speedup': {p: timing.spread(timing.ratios(rate[p], rate[baseline]))
                          for p in precisions[1:]},
        'eval_speedup': {p: timing.spread(timing.ratios(evaluation[baseline], evaluation[p]))
                         for p in precisions[1:]},
        'samples': {'train_steps_per_second': rate, 'eval_seconds': evaluation}}
  return results


def _lengths(network):
  if FLAGS.smoke:
    return SMOKE_LENGTHS
  return tuple(int(v) for v in FLAGS.lengths) if FLAGS.lengths else LENGTHS[network]


def main(argv):
  errors.check_command_line(argv)
  timing.check_choices('networks', FLAGS.networks, experiments.NETWORKS)
  timing.check_choices('precisions', FLAGS.precisions, config_lib.PRECISIONS)
  if FLAGS.lengths and not (len(FLAGS.lengths) == 2 and all(v.isdigit() for v in FLAGS.lengths)
                            and 0 < int(FLAGS.lengths[0]) < int(FLAGS.lengths[1])):
    errors.exit_with_error(f'--lengths={",".join(FLAGS.lengths)}: expected short,long: two '
                           'integers, 0 < short < long')
  console.quiet_python_logs()  # the retracing warnings of the two timed lengths
  history = across_runs.load(FLAGS.history, FLAGS.output)
  smoke = FLAGS.smoke
  repeats, tries = (2, 1) if smoke else (FLAGS.repeats, FLAGS.tries)
  report = {'machine': timing.machine(),
            'repeats': repeats, 'tries': tries, 'smoke': smoke, 'networks': {}}
  with tempfile.TemporaryDirectory() as directory:
    if smoke:
      data = experiments.generated_datasets(directory, (400, 100), (200, 40))
      validation_size = 40
    else:
      data = experiments.generated_datasets(directory, (60_000, 10_000), (50_000, 10_000))
      validation_size = 5_000
    report['networks'] = measure(
        FLAGS.networks, FLAGS.precisions, data, validation_size, f'{directory}/unused',
        {network: _lengths(network) for network in FLAGS.networks}, repeats, tries)
  report['targets'] = {
      f'{network} {p} >= {TARGET_SPEEDUP[network]}x {FLAGS.precisions[0]}':
          result['train_speedup'][p]['median'] >= TARGET_SPEEDUP[network]
      for network, result in report['networks'].items() if network in TARGET_SPEEDUP
      for p in result['train_speedup'] if p == 'mixed_bfloat16'}
  across_runs.attach(report, history)
  timing.write_json(report, FLAGS.output)
  print_table(report)
  across_runs.print_bands(report)


def print_table(report):
  print(f'machine: {report["machine"]}; median (min–max) of {report["repeats"]} interleaved '
        f'rounds, fastest of {report["tries"]} timings per length and round')
  print('| network | precision | train steps/s | speed-up | evaluation (15K images) | speed-up |')
  print('|---|---|---|---|---|---|')
  for network, r in report['networks'].items():
    for p, m in r['precisions'].items():
      train = timing.cell(r['train_speedup'][p], 2, 'x') if p in r['train_speedup'] else '1'
      evaluation = timing.cell(r['eval_speedup'][p], 2, 'x') if p in r['eval_speedup'] else '1'
      print(f'| {network} | {p} | {timing.cell(m["train_steps_per_second"])} | {train} | '
            f'{timing.cell(m["eval_seconds"], 2, " s")} | {evaluation} |')
  timing.print_targets(report['targets'])


if __name__ == '__main__':
  app.run(main, flags_parser=errors.parse_flags)
