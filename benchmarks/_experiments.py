"""Experiments built as the runners build them (config, precision policy, XLA default, data on
the device), on generated data, for the benchmarks that time a network in several settings."""

import dataclasses

from lottery_ticket import config as config_lib
from lottery_ticket import sweep
from lottery_ticket.datasets import synthetic

# The networks the per-network benchmarks build this way: one of each family (fully connected,
# small convolutional, residual with BatchNorm).
NETWORKS = ('lenet300_100', 'conv2', 'resnet20')


def generated_datasets(directory, mnist_sizes, cifar_sizes):
  """{dataset name: directory of generated files}; sizes are (train, test) examples."""
  return {'mnist': synthetic.make_idx_dataset(f'{directory}/mnist', *mnist_sizes),
          'cifar10': synthetic.make_cifar_dataset(f'{directory}/cifar10', cifar_sizes[0] // 5,
                                                  cifar_sizes[1])}


def experiment(network, precision, data, validation_size, output_dir, jit_compile=None):
  """The lottery Experiment of `network` at its paper hyperparameters in `precision` (XLA as
  the runners default unless `jit_compile` says)."""
  from lottery_ticket import experiment as experiment_lib  # pylint: disable=g-import-not-at-top
  spec = sweep.all_networks()[network]
  dataset = sweep.default_dataset(network)
  config = config_lib.ExperimentConfig(
      protocol='lottery', network=network, dataset=dataset, dataset_path=data[dataset],
      output_dir=output_dir, validation_size=validation_size, precision=precision,
      jit_compile=jit_compile, **dataclasses.asdict(spec.hyperparameters))
  return experiment_lib.Experiment(config, spec)


def train_run(experiment):
  """run(steps): the experiment's trainer training `steps` iterations from its dense θ0 (each
  call evaluates at its end only: a marginal timing cancels that out)."""
  trainer, order = experiment.trainer, experiment.batch_order()
  weights, masks = experiment.original_initial_weights(), experiment.full_masks()
  return lambda steps: trainer.train(weights, masks, steps, order, eval_interval=steps)


def evaluate_run(experiment):
  """run(): one evaluation of validation and test."""
  trainer = experiment.trainer
  return lambda: (trainer.evaluate('validation'), trainer.evaluate('test'))


def compute_dtype(experiment):
  """The dtype the first masked layer computes in (what the precision policy made of it)."""
  from foundations import masked_layers  # pylint: disable=g-import-not-at-top
  return next(iter(masked_layers.masked_layers(experiment.model).values())).compute_dtype
