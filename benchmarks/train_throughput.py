"""Training throughput of the compiled masked trainer against Keras `fit`, and memory per level.

In one process on generated data of the real shapes (55K/5K/10K examples), per network:

  fit            tf_keras `model.fit` on the same network with plain Dense/Conv2D layers, a
                 shuffled, prefetched tf.data pipeline and compile()'s defaults
  fit_tuned      the same with steps_per_execution=100 and the trainer's XLA setting
  trainer_100    the project's trainer, masked, 100% of weights remaining
  trainer_3.6    the same at 3.6% remaining (15 rounds of the paper's rates)
  no_masks       the same compiled loop on the plain network: masking overhead
  paper_eval     the trainer evaluating validation (5K) and test (10K) every 100 iterations

Every throughput is marginal (the same call at two lengths; extra steps over extra seconds, so
start-up, tracing and per-call costs cancel out), and the measurements are interleaved: each of
--repeats rounds times every one of them, of every network, in turn, then each network's
evaluation, so ratios are taken within a round and share its machine state, and every figure's
rounds span the whole run; in a round each length is timed --tries times and the fastest kept (a
disturbance only ever slows a call). Each figure is reported as median (min–max) over the
rounds. The bound is the network's matmuls and convolutions alone (benchmarks._bound). Then a
10-level LeNet lottery experiment reports peak RSS after levels 1 and 10 and the number of
traces. The targets are printed as checks, on the medians.

  python -m benchmarks.train_throughput [--networks=lenet300_100,conv2] [--repeats=5] [--tries=2]
      [--history='EARLIER*.json'] [--smoke]

With --history, each figure is also printed with its band across the earlier runs on this
machine (benchmarks._across_runs).
"""

import json

from absl import app
from absl import flags
import numpy as np
import tf_keras as keras

from benchmarks import _across_runs as across_runs
from benchmarks import _bound as bound
from benchmarks import _keras_baseline as baseline
from benchmarks import _memory as memory
from benchmarks import _timing as timing
from cifar_conv import constants as conv_constants
from foundations import batching
from foundations import errors
from foundations import model_state
from foundations import pruning
from foundations import trainer as trainer_lib
from mnist_fc import constants as lenet_constants

flags.DEFINE_list('networks', ['lenet300_100', 'conv2'], 'Networks to time (on a 2-core CPU: '
                  'LeNet about 10 minutes, Conv-2 about 20).')
flags.DEFINE_boolean('smoke', False, 'Tiny sizes, seconds long: checks the benchmark runs.')
timing.define_round_flags()
across_runs.define_history_flag()
flags.DEFINE_string('output', 'benchmarks/train_throughput.json', 'Where to write the JSON.')
FLAGS = flags.FLAGS

EVAL_INTERVAL = 100  # the paper's: validation and test every 100 iterations
# Marginal lengths (iterations): about 2-4 s of extra time each on a 2-core CPU.
LENGTHS = {'lenet300_100': {'fit': (300, 900), 'trainer': (1000, 3000)},
           'conv2': {'fit': (20, 60), 'trainer': (20, 60)}}
SMOKE_LENGTHS = {'lenet300_100': {'fit': (2, 4), 'trainer': (10, 20)},
                 'conv2': {'fit': (1, 2), 'trainer': (1, 2)}}
SMOKE_EVAL_INTERVAL = 10
TARGETS = {'lenet300_100': {'trainer_vs_fit': 4.0}, 'conv2': {'trainer_vs_fit': 1.5}}
MAX_MASKING_OVERHEAD = 0.10
MAX_EVAL_SHARE = 0.25
MAX_PAPER_ROUND_SECONDS = 60.0


def _data(input_shape, sizes):
  rng = np.random.default_rng(0)
  return [(rng.integers(0, 256, (n,) + input_shape, dtype=np.uint8),
           rng.integers(0, 10, n).astype(np.uint8)) for n in sizes]


def _sparse_masks(spec, initial, dense_masks):
  """The paper's per-layer rates applied until at most 3.6% remains (15 rounds for LeNet)."""
  masks = dense_masks
  while pruning.percent_remaining(masks)[1] > 3.6:
    masks = pruning.prune_by_percent(spec.prune_rates, masks,
                                     {k: np.abs(v) for k, v in initial.items()})
  return masks


class Network:
  """One network's timed runs and evaluation (`runs`, `evaluate`), built on generated data,
  and `summary(rates, eval_seconds)`: its figures from the rounds that timed them."""

  def __init__(self, spec, input_shape, sizes, lengths, measure_paper_eval, eval_interval):
    train, validation, test = _data(input_shape, sizes)
    self.spec, self.lengths, self.measure_paper_eval = spec, lengths, measure_paper_eval
    self.eval_interval = eval_interval
    hp = spec.hyperparameters
    adam = lambda: keras.optimizers.Adam(hp.learning_rate)  # pylint: disable=unnecessary-lambda-assignment
    self.masked = spec.build(input_shape, 10)
    order = batching.BatchOrder(len(train[1]), hp.batch_size, seed=0)
    initial = model_state.sample_initial_weights(self.masked, seed=0)
    dense = {k: np.ones(s, np.float32)
             for k, s in model_state.expected_mask_shapes(self.masked).items()}
    sparse = _sparse_masks(spec, initial, dense)

    def trainer_run(trainer, weights, masks, eval_interval=None):
      return lambda steps: trainer.train(weights, masks, steps, order,
                                         eval_interval=eval_interval or steps)

    plain = lambda: baseline.plain_copy(self.masked)  # pylint: disable=unnecessary-lambda-assignment
    trainer = trainer_lib.Trainer(self.masked, adam(), train, validation, test,
                                  jit_compile=spec.jit_compile)
    plain_trainer = trainer_lib.Trainer(plain(), adam(), train, validation, test,
                                        jit_compile=spec.jit_compile)
    fit_lengths, trainer_lengths = lengths['fit'], lengths['trainer']
    tuned_steps = min(100, trainer_lengths[0])
    self.runs = {
        'fit': (baseline.fit_run(plain(), adam(), train, hp.batch_size), *fit_lengths),
        'fit_tuned': (baseline.fit_run(plain(), adam(), train, hp.batch_size,
                                       steps_per_execution=tuned_steps,
                                       jit_compile=spec.jit_compile), *trainer_lengths),
        'trainer_100': (trainer_run(trainer, initial, dense), *trainer_lengths),
        'trainer_3.6': (trainer_run(trainer, initial, sparse), *trainer_lengths),
        'no_masks': (trainer_run(plain_trainer, {}, {}), *trainer_lengths)}
    if measure_paper_eval:
      self.runs['paper_eval'] = (trainer_run(trainer, initial, dense, eval_interval),
                                 *trainer_lengths)
    self.evaluate = lambda: (trainer.evaluate('validation'), trainer.evaluate('test'))

  def summary(self, rates, eval_seconds, repeats, bound_seconds):
    """{'rates': {run: spread}, 'ratios': {...}, 'eval_seconds', 'bound', ...}."""
    hp = self.spec.hyperparameters
    ratios = {'trainer_vs_fit': timing.ratios(rates['trainer_100'], rates['fit']),
              'trainer_vs_fit_tuned': timing.ratios(rates['trainer_100'], rates['fit_tuned']),
              'masking_overhead': [r - 1 for r in timing.ratios(rates['no_masks'],
                                                                rates['trainer_100'])]}
    evaluations = hp.training_iterations // self.eval_interval
    if self.measure_paper_eval:  # measured: the rate with evaluation against the rate without
      ratios['eval_share'] = [1 - r for r in timing.ratios(rates['paper_eval'],
                                                            rates['trainer_100'])]
      ratios['paper_round_seconds'] = [hp.training_iterations / r for r in rates['paper_eval']]
    else:  # derived: training at the measured rate plus the evaluations at their measured time
      train_seconds = [hp.training_iterations / r for r in rates['trainer_100']]
      eval_total = [evaluations * s for s in eval_seconds]
      ratios['eval_share'] = [e / (t + e) for t, e in zip(train_seconds, eval_total)]
      ratios['paper_round_seconds'] = [t + e for t, e in zip(train_seconds, eval_total)]
    return {'lengths': self.lengths, 'training_iterations': hp.training_iterations,
            'paper_eval_measured': self.measure_paper_eval,
            'rates': {name: timing.spread(values) for name, values in rates.items()},
            'ratios': {name: timing.spread(values) for name, values in ratios.items()},
            'eval_seconds': timing.spread(eval_seconds),
            'bound': bound.step_bound(baseline.plain_copy(self.masked), hp.batch_size,
                                      self.spec.jit_compile, repeats, bound_seconds),
            'samples': {'rates': rates, 'ratios': ratios, 'eval_seconds': eval_seconds}}


def measure(networks, repeats, tries, bound_seconds):
  """{network name: summary}. Every round times every run of every network, then each
  network's evaluation, so each figure's rounds span the whole run (docs/performance.md)."""
  rates, eval_seconds = timing.interleaved_rounds(
      {(n.spec.name, name): run for n in networks for name, run in n.runs.items()},
      {n.spec.name: n.evaluate for n in networks}, repeats, tries)
  return {n.spec.name: n.summary({name: rates[n.spec.name, name] for name in n.runs},
                                 eval_seconds[n.spec.name], repeats, bound_seconds)
          for n in networks}


def main(argv):
  errors.check_command_line(argv)
  timing.check_choices('networks', FLAGS.networks, tuple(LENGTHS))
  history = across_runs.load(FLAGS.history, FLAGS.output)
  smoke = FLAGS.smoke
  sizes = (600, 100, 200) if smoke else (55_000, 5_000, 10_000)
  networks = [(lenet_constants.LENET, (28, 28, 1), True),
              (conv_constants.NETWORKS['conv2'], (32, 32, 3), False)]
  repeats = 2 if smoke else FLAGS.repeats
  report = {'machine': timing.machine(),
            'repeats': repeats, 'tries': FLAGS.tries, 'smoke': smoke, 'networks': {}}
  eval_interval = SMOKE_EVAL_INTERVAL if smoke else EVAL_INTERVAL
  built = [Network(spec, input_shape, sizes, (SMOKE_LENGTHS if smoke else LENGTHS)[spec.name],
                   measure_paper_eval, eval_interval)
           for spec, input_shape, measure_paper_eval in networks
           if spec.name in FLAGS.networks]
  report['networks'] = measure(built, repeats, FLAGS.tries, 0.01 if smoke else 0.3)
  report['memory'] = memory.rss_over_levels(3 if smoke else 10, 20 if smoke else 200, sizes)
  report['targets'] = check_targets(report)
  across_runs.attach(report, history)
  timing.write_json(report, FLAGS.output)
  print_table(report)
  across_runs.print_bands(report)


def check_targets(report):
  """{check: passed} on the medians."""
  checks = {}
  for name, result in report['networks'].items():
    ratios = result['ratios']
    target = TARGETS[name]['trainer_vs_fit']
    checks[f'{name} trainer/fit >= {target}'] = ratios['trainer_vs_fit']['median'] >= target
    checks[f'{name} masking overhead <= 10%'] = (
        ratios['masking_overhead']['median'] <= MAX_MASKING_OVERHEAD)
  if 'lenet300_100' in report['networks']:
    lenet = report['networks']['lenet300_100']['ratios']
    checks['lenet300_100 evaluation share <= 25%'] = (
        lenet['eval_share']['median'] <= MAX_EVAL_SHARE)
    checks['lenet300_100 paper round <= 60 s'] = (
        lenet['paper_round_seconds']['median'] <= MAX_PAPER_ROUND_SECONDS)
  checks['RSS flat after level 1 (+10%)'] = memory.flat(report['memory'])
  return checks


def print_table(report):
  """The Markdown tables of the report and its checks."""
  print(f'machine: {report["machine"]}; median (min–max) of {report["repeats"]} interleaved '
        f'rounds, fastest of {report["tries"]} timings per length')
  print('\ntraining steps/s (marginal):\n')
  names = ('fit', 'fit_tuned', 'trainer_100', 'trainer_3.6', 'no_masks', 'paper_eval')
  print('| network | ' + ' | '.join(names) + ' | bound |')
  print('|---|' + '---|' * (len(names) + 1))
  for network, r in report['networks'].items():
    cells = [timing.cell(r['rates'][n]) if n in r['rates'] else '—' for n in names]
    print(f'| {network} | ' + ' | '.join(cells) + f' | {r["bound"]["steps_per_second"]:.1f} |')
  print('\nratios (each round\'s, then median (min–max)):\n')
  print('| network | trainer/fit | trainer/fit_tuned | masking overhead | eval share | paper round '
        '| evaluation (15K images) | step at the bound |')
  print('|---|---|---|---|---|---|---|---|')
  for network, r in report['networks'].items():
    q = r['ratios']
    percent = lambda s: {k: 100 * v if k != 'spread' else v for k, v in s.items()}  # pylint: disable=unnecessary-lambda-assignment
    print(f'| {network} | {timing.cell(q["trainer_vs_fit"], 2, "x")} | '
          f'{timing.cell(q["trainer_vs_fit_tuned"], 2, "x")} | '
          f'{timing.cell(percent(q["masking_overhead"]), 1, "%")} | '
          f'{timing.cell(percent(q["eval_share"]), 0, "%")} | '
          f'{timing.cell(q["paper_round_seconds"], 0, " s")}'
          f'{"" if r["paper_eval_measured"] else " (derived)"} | '
          f'{timing.cell(r["eval_seconds"], 3, " s")} | '
          f'{r["bound"]["gflop_per_step"]:.2f} GFLOP, {r["bound"]["gflop_per_second"]:.0f} '
          'GFLOP/s |')
  print('\nmemory:', json.dumps(report['memory']))
  timing.print_targets(report['targets'])


if __name__ == '__main__':
  app.run(main, flags_parser=errors.parse_flags)
