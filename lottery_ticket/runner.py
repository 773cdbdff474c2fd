"""The absl flags every runner shares, and the entry point that turns them into an experiment.

A runner module is three lines: it calls `run(experiment, networks, default_dataset)`. Flags
whose default is the paper's value for --network show "None" as their default in --helpfull;
the value used is printed when the run starts.

TensorFlow is imported only after every check that does not need it (lottery_ticket.preflight),
so a mistake in a flag or a file is reported in a fraction of a second. Ctrl-C and SIGTERM stop
a run cleanly (foundations.interrupts): exit status 130 or 143 and one line saying where.
"""

import sys

from absl import app
from absl import flags

from foundations import errors
from foundations import interrupts
from lottery_ticket import config as config_lib
from lottery_ticket import datasets
from lottery_ticket import preflight

FLAGS = flags.FLAGS


def define_flags(experiment, networks, default_dataset):
  """Defines the flags of `experiment` (one of config.EXPERIMENTS)."""
  flags.DEFINE_enum('network', next(iter(networks)), list(networks), 'Network to train.')
  flags.DEFINE_string('dataset', default_dataset,
                      f'Dataset: one of {sorted(datasets.DATASETS)}.')
  flags.DEFINE_string('dataset_path', None,
                      'Directory with the dataset files (MNIST-format IDX or CIFAR-10 python '
                      'batches); default: usual local places, then tensorflow-datasets.')
  flags.DEFINE_string('output_dir', None, 'Directory for all outputs (required).')
  flags.DEFINE_integer('training_iterations', None,
                       'Optimizer steps per run (default: the paper\'s value for --network).')
  flags.DEFINE_integer('batch_size', None, 'Minibatch size (default: the paper\'s, 60).')
  flags.DEFINE_float('learning_rate', None, 'Adam learning rate (default: the paper\'s).')
  flags.DEFINE_boolean('dropout', False, 'Use the network\'s dropout variant, if it has one.')
  flags.DEFINE_integer('eval_interval', 100,
                       'Evaluate validation and test every this many iterations.')
  flags.DEFINE_integer('validation_size', 5000, 'Training examples held out for validation.')
  flags.DEFINE_integer('trial', 1, 'Trial number: selects the seeds and the trial directory.')
  flags.DEFINE_integer('seed', 0, 'Base seed, combined with --trial for every random choice.')
  flags.DEFINE_boolean('jit_compile', None,
                       'Compile with XLA (default: yes for dense networks, no for conv nets).')
  flags.DEFINE_float('progress_seconds', 15.0, 'Seconds between progress lines.')
  flags.DEFINE_integer('checkpoint_interval', 0,
                       'Iterations between mid-run checkpoints (0: about every 5 minutes).')
  if experiment == 'lottery':
    flags.DEFINE_integer('levels', 20, 'Prune rounds after the dense level 0.')
  if experiment == 'one_shot':
    flags.DEFINE_list('percent_remaining', ['51.3', '21.1', '7.0', '3.6'],
                      'Percent of weights to keep, each in (0, 100]; comma-separated.')
  if experiment in ('reinit', 'random_prune'):
    flags.DEFINE_list('level', ['3'], 'Lottery levels whose masks to control; comma-separated.')
  if experiment == 'reinit':
    flags.DEFINE_enum('reinit_mode', 'glorot', list(config_lib.REINIT_MODES),
                      'glorot: fresh initialisation; sample_original(_signs): values drawn '
                      'from the original initialisation (keeping the original signs).')
  if experiment == 'train':
    flags.DEFINE_string('masks', None, 'Masks .npz file or run directory (default: no pruning).')
    flags.DEFINE_string('presets', None,
                        'Initial weights .npz file or run directory (default: fresh init).')


def _numbers(flag, values, kind):
  try:
    return tuple(kind(value) for value in values)
  except ValueError:
    raise errors.UserInputError(
        f'--{flag}={",".join(values)}: expected comma-separated {kind.__name__} values') from None


def _or_default(value, default):
  return default if value is None else value


def config_from_flags(experiment, networks):
  """An ExperimentConfig from the parsed flags, defaults filled in from --network."""
  spec = networks[FLAGS.network]
  if not FLAGS.output_dir:
    raise errors.UserInputError('--output_dir: required (where to write the experiment)')
  if FLAGS.dropout and spec.dropout_hyperparameters is None:
    raise errors.UserInputError(f'--dropout: {spec.name} has no dropout variant')
  defaults = spec.dropout_hyperparameters if FLAGS.dropout else spec.hyperparameters
  optional = {}
  if experiment == 'lottery':
    optional['levels'] = FLAGS.levels
  if experiment == 'one_shot':
    optional['percent_remaining'] = _numbers('percent_remaining', FLAGS.percent_remaining, float)
  if experiment in ('reinit', 'random_prune'):
    optional['control_levels'] = _numbers('level', FLAGS.level, int)
  if experiment == 'reinit':
    optional['reinit_mode'] = FLAGS.reinit_mode
  if experiment == 'train':
    optional.update(masks=FLAGS.masks, presets=FLAGS.presets)
  return config_lib.ExperimentConfig(
      experiment=experiment, network=spec.name, dataset=FLAGS.dataset,
      dataset_path=FLAGS.dataset_path, output_dir=FLAGS.output_dir,
      training_iterations=_or_default(FLAGS.training_iterations, defaults.training_iterations),
      batch_size=_or_default(FLAGS.batch_size, defaults.batch_size),
      learning_rate=_or_default(FLAGS.learning_rate, defaults.learning_rate),
      dropout=FLAGS.dropout, eval_interval=FLAGS.eval_interval,
      validation_size=FLAGS.validation_size, trial=FLAGS.trial, seed=FLAGS.seed,
      jit_compile=_or_default(FLAGS.jit_compile, spec.jit_compile),
      progress_seconds=FLAGS.progress_seconds,
      checkpoint_interval=FLAGS.checkpoint_interval, **optional)


def _run(experiment, config, spec, dataset):
  """Builds the Experiment (this imports TensorFlow) and runs its protocol."""
  # pylint: disable=g-import-not-at-top  (TensorFlow: only once the checks have passed)
  from lottery_ticket import experiment as experiment_lib
  from lottery_ticket import protocols
  built = experiment_lib.Experiment(config, spec, dataset)
  try:
    protocols.PROTOCOLS[experiment](built)
  finally:
    built.close()


def run(experiment, networks, default_dataset):
  """Defines the flags, parses them and runs `experiment`; user mistakes exit with one line."""
  define_flags(experiment, networks, default_dataset)

  def main(argv):
    if len(argv) > 1:
      errors.exit_with_error(
          f'unexpected arguments {argv[1:]}; every setting is a --flag (see --helpfull)')
    with interrupts.handled():
      try:
        config = config_from_flags(experiment, networks)
        dataset = preflight.prepare(config)
        print(f'{experiment}: network={config.network} dataset={config.dataset} '
              f'training_iterations={config.training_iterations} batch_size={config.batch_size} '
              f'learning_rate={config.learning_rate} output_dir={config.output_dir}', flush=True)
        _run(experiment, config, networks[config.network], dataset)
      except errors.UserInputError as e:
        errors.exit_with_error(str(e))
      except errors.TrainingDivergedError as e:
        errors.exit_with_error(f'training diverged: {e}; try a smaller --learning_rate')
      except OSError as e:  # e.g. the disk filled up, or the directory changed under the run
        errors.exit_with_error(errors.os_error_message(e, 'output_dir', FLAGS.output_dir or '.'))
      except interrupts.Interrupted as e:
        print(f'{e}, re-run the same command to resume', file=sys.stderr, flush=True)
        sys.exit(e.exit_status)

  app.run(main, flags_parser=errors.parse_flags)
