"""Training throughput of the deep networks (ResNet-20, VGG-19) with the paper's settings.

On generated data of CIFAR-10's shapes (45K/5K/10K), the project's trainer runs each network at
its paper batch size with SGD, momentum, weight decay, the step schedule and augmentation, as
`cifar_conv.runners.lottery_experiment --network=...` would, and reports (median of --repeats):

  train_steps_per_second   training alone (the evaluation at the end of a call subtracted)
  eval_seconds             one evaluation of validation + test (15,000 images)
  eval_share               evaluation's share of the time at the default --eval_interval
  paper_run_hours          the paper's iterations at these rates, with evaluation

  python -m benchmarks.deep_throughput [--networks=resnet20,vgg19] [--smoke]
"""

import json
import os
import platform

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from benchmarks import _timing as timing
from cifar_conv import constants
from foundations import batching
from foundations import model_state
from foundations import optimizers
from foundations import trainer as trainer_lib

flags.DEFINE_list('networks', ['resnet20', 'vgg19'], 'Networks to time.')
flags.DEFINE_integer('iterations', 20, 'Training iterations per timing.')
flags.DEFINE_integer('repeats', 3, 'Repetitions per measurement (the median is reported).')
flags.DEFINE_boolean('smoke', False, 'Tiny sizes, seconds long: checks the benchmark runs.')
flags.DEFINE_string('output', 'benchmarks/deep_throughput.json', 'Where to write the JSON.')
FLAGS = flags.FLAGS


def measure(spec, sizes, iterations, repeats, jit_compile):
  """{measurement: value} for one network at its paper hyperparameters."""
  hp = spec.hyperparameters
  rng = np.random.default_rng(0)
  train, validation, test = [(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                              rng.integers(0, 10, n).astype(np.uint8)) for n in sizes]
  model = spec.build((32, 32, 3), 10, channel_statistics=([0.5] * 3, [0.25] * 3))
  trainer = trainer_lib.Trainer(
      model, optimizers.create(hp.optimizer, hp.learning_rate, hp.momentum), train, validation,
      test, jit_compile=jit_compile,
      schedule=optimizers.Schedule(hp.learning_rate, hp.lr_milestones, hp.lr_gamma),
      weight_decay=hp.weight_decay, augment_seed=0 if hp.augment else None)
  initial = model_state.sample_initial_weights(model, seed=0)
  masks = {k: np.ones(s, np.float32) for k, s in model_state.expected_mask_shapes(model).items()}
  order = batching.BatchOrder(sizes[0], hp.batch_size, seed=0)
  run = lambda: trainer.train(initial, masks, iterations, order, eval_interval=iterations)  # pylint: disable=g-long-lambda
  run()  # warm-up: traces the compiled functions
  eval_seconds = timing.median_seconds(
      lambda: (trainer.evaluate('validation'), trainer.evaluate('test')), repeats)
  train_seconds = timing.median_seconds(run, repeats) - eval_seconds
  steps_per_second = iterations / train_seconds
  interval_seconds = hp.eval_interval / steps_per_second
  return dict(batch_size=hp.batch_size, iterations=iterations,
              train_steps_per_second=steps_per_second, eval_seconds=eval_seconds,
              eval_interval=hp.eval_interval,
              eval_share=eval_seconds / (interval_seconds + eval_seconds),
              paper_run_hours=hp.training_iterations / hp.eval_interval *
              (interval_seconds + eval_seconds) / 3600)


def main(argv):
  del argv
  sizes = (300, 50, 50) if FLAGS.smoke else (45_000, 5_000, 10_000)
  iterations = 2 if FLAGS.smoke else FLAGS.iterations
  repeats = 1 if FLAGS.smoke else FLAGS.repeats
  gpu = bool(tf.config.list_physical_devices('GPU'))
  report = {'machine': f'{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}',
            'device': 'GPU' if gpu else 'CPU', 'repeats': repeats, 'smoke': FLAGS.smoke,
            'networks': {}}
  for name in FLAGS.networks:
    spec = constants.NETWORKS[name]
    report['networks'][name] = measure(spec, sizes, iterations, repeats,
                                       jit_compile=gpu or spec.jit_compile)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  with open(FLAGS.output, 'w') as f:
    json.dump(report, f, indent=2)
  print(f'machine: {report["machine"]} ({report["device"]}); median of {repeats}')
  print('| network | batch | train steps/s | evaluation (15K images) | eval interval '
        '| eval share | paper run |')
  print('|---|---|---|---|---|---|---|')
  for name, r in report['networks'].items():
    print(f'| {name} | {r["batch_size"]} | {r["train_steps_per_second"]:.2f} | '
          f'{r["eval_seconds"]:.1f} s | {r["eval_interval"]:,} | {100 * r["eval_share"]:.1f}% | '
          f'{r["paper_run_hours"]:.1f} h |')


if __name__ == '__main__':
  app.run(main)
