"""Training throughput of the compiled masked trainer against Keras `fit`, and memory per level.

Everything runs in one process on generated data of the real shapes (55K/5K/10K examples),
each timing repeated `--repeats` times and reported as the median:

  fit            tf_keras `model.fit` on the same network with plain Dense/Conv2D layers
  trainer        the project's trainer, masked, 100% and 3.6% of weights remaining
  no_masks       the same compiled loop on the plain (unmasked) network: masking overhead
  paper_eval     the trainer evaluating validation (5K) and test (10K) every 100 iterations

Then a 10-level LeNet lottery experiment (real protocol, short levels) reports peak RSS after
levels 1 and 10 and the number of traces of the compiled functions. Targets are checked as
ratios from this one run.
"""

import json
import os
import platform
import resource
import tempfile

from absl import app
from absl import flags
import numpy as np
import tf_keras as keras

from benchmarks import _timing as timing
from cifar_conv import constants as conv_constants
from foundations import batching
from foundations import model_state
from foundations import pruning
from foundations import trainer as trainer_lib
from lottery_ticket.datasets import synthetic
from mnist_fc import constants as lenet_constants

flags.DEFINE_boolean('smoke', False, 'Tiny sizes, seconds long: checks the benchmark runs.')
flags.DEFINE_integer('repeats', 3, 'Repetitions per measurement (the median is reported).')
flags.DEFINE_string('output', 'benchmarks/train_throughput.json', 'Where to write the JSON.')
FLAGS = flags.FLAGS

TARGETS = {'lenet300_100': {'trainer_vs_fit': 4.0}, 'conv2': {'trainer_vs_fit': 1.5}}
MAX_MASKING_OVERHEAD = 0.10
MAX_EVAL_SHARE = 0.25
MAX_PAPER_ROUND_SECONDS = 60.0


def _plain_copy(spec, input_shape):
  """The same architecture with plain keras layers (no masks), via the masked model's config."""
  masked = spec.build(input_shape, 10)
  plain = keras.Sequential()
  plain.add(keras.layers.InputLayer(input_shape=input_shape))
  for layer in masked.layers:
    config = layer.get_config()
    if type(layer).__name__ == 'MaskedDense':
      plain.add(keras.layers.Dense.from_config(config))
    elif type(layer).__name__ == 'MaskedConv2D':
      plain.add(keras.layers.Conv2D.from_config(config))
    else:
      plain.add(type(layer).from_config(config))
  return plain


def _data(input_shape, sizes):
  rng = np.random.default_rng(0)
  return [(rng.integers(0, 256, (n,) + input_shape, dtype=np.uint8),
           rng.integers(0, 10, n).astype(np.uint8)) for n in sizes]


def measure(spec, input_shape, sizes, iterations, repeats, eval_interval=100):
  """{measurement: steps/s} and derived ratios for one network."""
  train, validation, test = _data(input_shape, sizes)
  batch = spec.hyperparameters.batch_size
  results = {}

  plain = _plain_copy(spec, input_shape)
  plain.compile(keras.optimizers.Adam(spec.hyperparameters.learning_rate),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  fit_x, fit_y = train[0][:iterations * batch], train[1][:iterations * batch]
  plain.fit(fit_x[:batch * 5], fit_y[:batch * 5], batch_size=batch, verbose=0)  # warm-up
  results['fit'] = iterations / timing.median_seconds(
      lambda: plain.fit(fit_x, fit_y, batch_size=batch, epochs=1, verbose=0), repeats)

  def trainer_for(model):
    return trainer_lib.Trainer(model, keras.optimizers.Adam(spec.hyperparameters.learning_rate),
                               train, validation, test, jit_compile=spec.jit_compile)

  order = batching.BatchOrder(len(train[1]), batch, seed=0)
  masked = spec.build(input_shape, 10)
  trainer = trainer_for(masked)
  initial = model_state.sample_initial_weights(masked, seed=0)
  dense_masks = {k: np.ones(s, np.float32)
                 for k, s in model_state.expected_mask_shapes(masked).items()}
  sparse_masks = dense_masks
  while pruning.percent_remaining(sparse_masks)[1] > 3.6:  # 15 rounds of the paper's rates
    sparse_masks = pruning.prune_by_percent(spec.prune_rates, sparse_masks,
                                            {k: np.abs(v) for k, v in initial.items()})

  def run(t, weights, masks, interval):
    return lambda: t.train(weights, masks, iterations, order, eval_interval=interval)

  run(trainer, initial, dense_masks, iterations)()  # warm-up: traces and compiles
  eval_seconds = timing.median_seconds(
      lambda: (trainer.evaluate('validation'), trainer.evaluate('test')), repeats)
  # train() evaluates once at its end; that evaluation is subtracted.
  for name, masks in (('trainer_100', dense_masks), ('trainer_3.6', sparse_masks)):
    seconds = timing.median_seconds(run(trainer, initial, masks, iterations), repeats)
    results[name] = iterations / (seconds - eval_seconds)
  plain_trainer = trainer_for(_plain_copy(spec, input_shape))
  run(plain_trainer, {}, {}, iterations)()
  seconds = timing.median_seconds(run(plain_trainer, {}, {}, iterations), repeats)
  results['no_masks'] = iterations / (seconds - eval_seconds)
  run(trainer, initial, dense_masks, eval_interval)()  # warm-up: compiles the shorter chunks
  paper_seconds = timing.median_seconds(run(trainer, initial, dense_masks, eval_interval), repeats)
  results['paper_eval'] = iterations / paper_seconds
  evaluations = -(-iterations // eval_interval)
  results['eval_share'] = evaluations * eval_seconds / paper_seconds
  results['trainer_vs_fit'] = results['trainer_100'] / results['fit']
  results['masking_overhead'] = results['no_masks'] / results['trainer_100'] - 1
  results['paper_round_seconds'] = spec.hyperparameters.training_iterations / results[
      'paper_eval']
  return results


def rss_over_levels(levels, iterations, sizes):
  """Peak RSS (MiB) after level 1 and after the last level of a real lottery experiment."""
  from lottery_ticket import config as config_lib  # pylint: disable=g-import-not-at-top
  from lottery_ticket import experiment as experiment_lib  # pylint: disable=g-import-not-at-top
  from lottery_ticket.protocols import lottery  # pylint: disable=g-import-not-at-top
  rss = {}
  with tempfile.TemporaryDirectory() as directory:
    synthetic.make_idx_dataset(os.path.join(directory, 'data'), sizes[0] + sizes[1], sizes[2])
    config = config_lib.ExperimentConfig(
        protocol='lottery', network='lenet300_100', dataset='mnist',
        dataset_path=os.path.join(directory, 'data'), output_dir=os.path.join(directory, 'out'),
        training_iterations=iterations, batch_size=60, learning_rate=1.2e-3,
        validation_size=sizes[1], levels=0, progress_seconds=1e9)
    experiment = experiment_lib.Experiment(config, lenet_constants.LENET)
    for level in range(1, levels + 1):
      experiment.config = config_lib.dataclasses.replace(config, levels=level - 1)
      lottery.lottery(experiment)  # levels done before are skipped (resumed from disk)
      rss[level] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traces = experiment.trainer.traces
  return {'rss_mib_after_level_1': rss[1], f'rss_mib_after_level_{levels}': rss[levels],
          'traces': traces}


def main(argv):
  del argv
  smoke = FLAGS.smoke
  sizes = (600, 100, 200) if smoke else (55_000, 5_000, 10_000)
  networks = [(lenet_constants.LENET, (28, 28, 1), 20 if smoke else 1000),
              (conv_constants.NETWORKS['conv2'], (32, 32, 3), 2 if smoke else 40)]
  repeats = 1 if smoke else FLAGS.repeats
  report = {'machine': f'{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}',
            'repeats': repeats, 'smoke': smoke, 'networks': {}}
  for spec, input_shape, iterations in networks:
    eval_interval = 10 if smoke else 100
    report['networks'][spec.name] = dict(
        iterations=iterations, **measure(spec, input_shape, sizes, iterations, repeats,
                                         eval_interval))
  report['memory'] = rss_over_levels(3 if smoke else 10, 20 if smoke else 200, sizes)
  report['targets'] = check_targets(report)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  with open(FLAGS.output, 'w') as f:
    json.dump(report, f, indent=2)
  print_table(report)


def check_targets(report):
  checks = {}
  for name, result in report['networks'].items():
    checks[f'{name} trainer/fit >= {TARGETS[name]["trainer_vs_fit"]}'] = (
        result['trainer_vs_fit'] >= TARGETS[name]['trainer_vs_fit'])
    checks[f'{name} masking overhead <= 10%'] = result['masking_overhead'] <= MAX_MASKING_OVERHEAD
  lenet = report['networks']['lenet300_100']
  checks['lenet300_100 evaluation share <= 25%'] = lenet['eval_share'] <= MAX_EVAL_SHARE
  checks['lenet300_100 paper round <= 60 s'] = (
      lenet['paper_round_seconds'] <= MAX_PAPER_ROUND_SECONDS)
  memory = report['memory']
  last = max(int(k.rsplit('_', 1)[1]) for k in memory if k.startswith('rss'))
  checks['RSS flat after level 1 (+10%)'] = (
      memory[f'rss_mib_after_level_{last}'] <= 1.1 * memory['rss_mib_after_level_1'])
  return checks


def print_table(report):
  print(f'machine: {report["machine"]}; median of {report["repeats"]}')
  print('| network | fit | trainer 100% | trainer 3.6% | no masks | paper eval | trainer/fit '
        '| masking overhead | eval share | paper round |')
  print('|---|---|---|---|---|---|---|---|---|---|')
  for name, r in report['networks'].items():
    print(f'| {name} | {r["fit"]:.1f} | {r["trainer_100"]:.1f} | {r["trainer_3.6"]:.1f} | '
          f'{r["no_masks"]:.1f} | {r["paper_eval"]:.1f} | {r["trainer_vs_fit"]:.2f}x | '
          f'{100 * r["masking_overhead"]:+.1f}% | {100 * r["eval_share"]:.0f}% | '
          f'{r["paper_round_seconds"]:.0f} s |')
  print('memory:', json.dumps(report['memory']))
  for check, passed in report['targets'].items():
    print(f'{"PASS" if passed else "FAIL"}  {check}')


if __name__ == '__main__':
  app.run(main)
