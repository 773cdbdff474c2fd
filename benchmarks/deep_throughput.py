"""Training throughput of the deep networks (ResNet-20, VGG-19) against Keras `fit`.

On generated data of CIFAR-10's shapes (45K/5K/10K), the project's trainer runs each network at
its paper settings (batch size, SGD with momentum, coupled weight decay, the step schedule,
augmentation, BatchNorm), as `cifar_conv.runners.lottery_experiment --network=...` would, and
tf_keras `fit` trains the same architecture with plain layers, the same optimizer, weight decay
(as an L2 loss of the same gradient) and augmentation (in a tf.data map), in one process:

  trainer                  training steps/s (marginal: the same call at two lengths)
  fit                      the same for `fit`, interleaved with the trainer in every round
  trainer_vs_fit           the two, round by round
  bound                    the network's convolutions and matmuls alone (benchmarks._bound)
  eval_seconds             one evaluation of validation + test (15,000 images)
  eval_share, paper_run_hours   at the default --eval_interval and the paper's iterations

Each is the median (min–max) of --repeats rounds; in each round every length is timed --tries
times and the fastest kept, and the evaluation after them (fastest of --tries).

  python -m benchmarks.deep_throughput [--networks=resnet20,vgg19] [--repeats=5] [--tries=2]
      [--history='EARLIER*.json'] [--smoke]

With --history, each figure is also printed with its band across the earlier runs on this
machine (benchmarks._across_runs).
"""

import dataclasses

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from benchmarks import _across_runs as across_runs
from benchmarks import _bound as bound
from benchmarks import _keras_baseline as baseline
from benchmarks import _timing as timing
from cifar_conv import constants
from foundations import batching
from foundations import console
from foundations import errors
from foundations import model_state
from foundations import optimizers
from foundations import trainer as trainer_lib

# Marginal lengths (iterations): about 6–7 s of extra time for ResNet-20 on a 2-core CPU.
LENGTHS = {'resnet20': (10, 50), 'vgg19': (4, 8)}
SMOKE_LENGTHS = (1, 2)
SMOKE_BATCH_SIZE = 8  # --smoke: the paper's batch of 128 would make it minutes long
TARGET_TRAINER_VS_FIT = 1.0

flags.DEFINE_list('networks', ['resnet20'], 'Networks to time (vgg19: about 20 minutes on a '
                  '2-core CPU).')
timing.define_round_flags()
across_runs.define_history_flag()
flags.DEFINE_boolean('smoke', False, 'Tiny sizes, seconds long: checks the benchmark runs.')
flags.DEFINE_string('output', 'benchmarks/deep_throughput.json', 'Where to write the JSON.')
FLAGS = flags.FLAGS


def measure(spec, sizes, lengths, repeats, jit_compile):
  """{measurement: value or spread} for one network at its paper hyperparameters."""
  hp = spec.hyperparameters
  if FLAGS.smoke:
    hp = dataclasses.replace(hp, batch_size=SMOKE_BATCH_SIZE)
  rng = np.random.default_rng(0)
  train, validation, test = [(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                              rng.integers(0, 10, n).astype(np.uint8)) for n in sizes]
  optimizer = lambda: optimizers.create(hp.optimizer, hp.learning_rate, hp.momentum)  # pylint: disable=unnecessary-lambda-assignment
  model = spec.build((32, 32, 3), 10, channel_statistics=([0.5] * 3, [0.25] * 3))
  trainer = trainer_lib.Trainer(
      model, optimizer(), train, validation, test, jit_compile=jit_compile,
      schedule=optimizers.Schedule(hp.learning_rate, hp.lr_milestones, hp.lr_gamma),
      weight_decay=hp.weight_decay, augment_seed=0 if hp.augment else None)
  initial = model_state.sample_initial_weights(model, seed=0)
  masks = {k: np.ones(s, np.float32) for k, s in model_state.expected_mask_shapes(model).items()}
  order = batching.BatchOrder(sizes[0], hp.batch_size, seed=0)
  # The fit model gets the schedule's first rate: its milestones lie far beyond these lengths.
  fit = baseline.fit_run(baseline.plain_copy(model), optimizer(), train, hp.batch_size,
                         weight_decay=hp.weight_decay, augment=hp.augment,
                         jit_compile=jit_compile)
  rates, seconds = timing.interleaved_rounds(
      {'trainer': (lambda steps: trainer.train(initial, masks, steps, order,
                                               eval_interval=steps), *lengths),
       'fit': (fit, *lengths)},
      {'eval': lambda: (trainer.evaluate('validation'), trainer.evaluate('test'))}, repeats,
      FLAGS.tries)
  eval_seconds = seconds['eval']
  steps_per_second = timing.spread(rates['trainer'])
  interval_seconds = hp.eval_interval / steps_per_second['median']
  evaluation = timing.spread(eval_seconds)['median']
  return dict(batch_size=hp.batch_size, lengths=lengths,
              train_steps_per_second=steps_per_second,
              fit_steps_per_second=timing.spread(rates['fit']),
              trainer_vs_fit=timing.spread(timing.ratios(rates['trainer'], rates['fit'])),
              bound=bound.step_bound(baseline.plain_copy(model), hp.batch_size, jit_compile,
                                     repeats, seconds=0.001 if FLAGS.smoke else 0.2),
              eval_seconds=timing.spread(eval_seconds), eval_interval=hp.eval_interval,
              eval_share=evaluation / (interval_seconds + evaluation),
              paper_run_hours=hp.training_iterations / hp.eval_interval *
              (interval_seconds + evaluation) / 3600,
              samples={'rates': rates, 'eval_seconds': eval_seconds})


def main(argv):
  errors.check_command_line(argv)
  timing.check_choices('networks', FLAGS.networks, tuple(LENGTHS))
  console.quiet_python_logs()  # the retracing warnings of the two timed lengths
  history = across_runs.load(FLAGS.history, FLAGS.output)
  sizes = (300, 50, 50) if FLAGS.smoke else (45_000, 5_000, 10_000)
  repeats = 2 if FLAGS.smoke else FLAGS.repeats
  gpu = bool(tf.config.list_physical_devices('GPU'))
  report = {'machine': timing.machine(), 'device': 'GPU' if gpu else 'CPU', 'repeats': repeats,
            'tries': FLAGS.tries, 'smoke': FLAGS.smoke, 'networks': {}}
  for name in FLAGS.networks:
    spec = constants.NETWORKS[name]
    report['networks'][name] = measure(spec, sizes,
                                       SMOKE_LENGTHS if FLAGS.smoke else LENGTHS[name], repeats,
                                       jit_compile=gpu or spec.jit_compile)
  report['targets'] = {f'{name} trainer/fit >= {TARGET_TRAINER_VS_FIT}':
                       r['trainer_vs_fit']['median'] >= TARGET_TRAINER_VS_FIT
                       for name, r in report['networks'].items()}
  across_runs.attach(report, history)
  timing.write_json(report, FLAGS.output)
  print_table(report)
  across_runs.print_bands(report)


def print_table(report):
  print(f'machine: {report["machine"]} ({report["device"]}); median (min–max) of '
        f'{report["repeats"]} interleaved rounds, fastest of {report["tries"]} timings per '
        'length')
  print('| network | batch | trainer steps/s | fit steps/s | trainer/fit | bound steps/s '
        '| trainer / bound | evaluation (15K images) | eval share | paper run |')
  print('|---|---|---|---|---|---|---|---|---|---|')
  for name, r in report['networks'].items():
    b = r['bound']
    print(f'| {name} | {r["batch_size"]} | {timing.cell(r["train_steps_per_second"], 2)} | '
          f'{timing.cell(r["fit_steps_per_second"], 2)} | {timing.cell(r["trainer_vs_fit"], 2, "x")}'
          f' | {b["steps_per_second"]:.2f} ({b["gflop_per_step"]:.1f} GFLOP at '
          f'{b["gflop_per_second"]:.0f} GFLOP/s) | '
          f'{r["train_steps_per_second"]["median"] / b["steps_per_second"]:.0%} | '
          f'{timing.cell(r["eval_seconds"], 1, " s")} | {100 * r["eval_share"]:.1f}% | '
          f'{r["paper_run_hours"]:.1f} h |')
  timing.print_targets(report['targets'])


if __name__ == '__main__':
  app.run(main, flags_parser=errors.parse_flags)
