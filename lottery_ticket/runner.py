"""The absl flags every runner shares, and the entry point that turns them into an experiment.

A runner module is three lines: it calls `run(protocol_name, networks, default_dataset)`. Flags
whose default is the paper's value for --network show "None" as their default in --helpfull;
the value used is printed when the run starts.

TensorFlow is imported only after every check that does not need it (lottery_ticket.preflight),
so a mistake in a flag or a file is reported in a fraction of a second. Ctrl-C and SIGTERM stop
a run cleanly (foundations.interrupts): exit status 130 or 143 and one line saying where.
"""

import dataclasses
import sys

from absl import app
from absl import flags

from foundations import console
from foundations import determinism
from foundations import distribution
from foundations import errors
from foundations import interrupts
from lottery_ticket import config as config_lib
from lottery_ticket import datasets
from lottery_ticket import flag_definitions
from lottery_ticket import preflight
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import spec as spec_lib

FLAGS = flags.FLAGS


# --help's groups besides the protocol's own flags (everything else the runner defines).
DATA_AND_OUTPUT_FLAGS = ('network', 'dataset', 'dataset_path', 'validation_size', 'output_dir',
                         'trial', 'trials', 'seed', 'progress_seconds', 'checkpoint_interval')


def define_flags(protocol_name, networks, default_dataset):
  """Defines the flags of `protocol_name` (one of config.PROTOCOL_NAMES).

  Returns:
    --help's groups: [(title, flag names)], the protocol's own flags first.
  """
  shared = _define_shared_flags(networks, default_dataset)
  own = [name for name in _define_protocol_flags(protocol_name) if name not in shared]
  return help_groups(own, shared)


def help_groups(own, shared):
  """[(title, flag names)] for --help: `own`, then `shared` split into training and data."""
  training = [name for name in shared if name not in DATA_AND_OUTPUT_FLAGS]
  return [('this command', list(own)), ('training settings', training),
          ('network, data and output', list(DATA_AND_OUTPUT_FLAGS))]


def flags_defined_by(define):
  """The names of the flags `define()` adds to FLAGS, in the order absl keeps them."""
  before = set(FLAGS)
  define()
  return [name for name in FLAGS if name not in before]


def _define_shared_flags(networks, default_dataset):
  return flags_defined_by(lambda: flag_definitions.define_shared(networks, default_dataset))


def _define_protocol_flags(protocol_name):
  return flags_defined_by(lambda: flag_definitions.define_protocol(protocol_name))


_numbers = spec_lib.parse_numbers


def parse_trials(text, flag='trials'):
  """(1, 2, 3, 5) for '1-3,5': trial numbers >= 0, in the order given, without repeats."""
  trials = []
  for part in text.split(','):
    try:
      first, _, last = part.strip().partition('-')
      numbers = range(int(first), int(last or first) + 1)
    except ValueError:
      raise errors.UserInputError(
          f'--{flag}={text}: expected trial numbers and ranges, e.g. 1-5 or 1,3,4') from None
    if not numbers:
      raise errors.UserInputError(f'--{flag}={text}: empty range {part.strip()}')
    trials.extend(numbers)
  if any(t < 0 for t in trials):  # int('') above rejects '-1'; kept for clarity
    raise errors.UserInputError(f'--{flag}={text}: expected trial numbers >= 0')
  if len(set(trials)) != len(trials):
    raise errors.UserInputError(f'--{flag}={text}: a trial is listed twice')
  return tuple(trials)


def trials_from_flags():
  """The trials to run: --trials, or --trial."""
  if FLAGS.trials is None:
    return (FLAGS.trial,)
  trials = parse_trials(FLAGS.trials)
  if FLAGS['trial'].present and trials != (FLAGS.trial,):
    raise errors.UserInputError(
        f'--trial={FLAGS.trial} and --trials={FLAGS.trials}: give one of them')
  return trials


def control_trials_from_flags():
  return spec_lib.counted(FLAGS, 'control_trials')


def _or_default(value, default):
  return default if value is None else value


def config_from_flags(protocol_name, networks):
  """An ExperimentConfig from the parsed flags, defaults filled in from --network."""
  spec = networks[FLAGS.network]
  if not FLAGS.output_dir:
    raise errors.UserInputError('--output_dir: required (where to write the experiment)')
  protocol = catalog.get(protocol_name)
  if protocol.hyperparameters:  # its defaults come from the network: check it first
    _check_network(protocol, spec)
  defaults = _default_hyperparameters(spec, protocol)
  if not protocol.hyperparameters:
    _check_network(protocol, spec)
  optional = {setting.field: setting.parse(FLAGS, setting.flag)
              for setting in protocol.settings}
  hyperparameters = {
      field.name: _or_default(getattr(FLAGS, field.name), getattr(defaults, field.name))
      for field in dataclasses.fields(defaults)
      if field.name not in ('lr_milestones', 'report_iterations')}
  for name in ('lr_milestones', 'report_iterations'):
    values = getattr(FLAGS, name)
    hyperparameters[name] = (getattr(defaults, name) if values is None
                             else _numbers(name, values, int))
  if FLAGS.report_iterations is None:  # the paper's, within a shortened run, and its end
    iterations = hyperparameters['training_iterations']
    hyperparameters['report_iterations'] = tuple(sorted(
        {i for i in hyperparameters['report_iterations'] if i < iterations} |
        ({iterations} if hyperparameters['report_iterations'] else set())))
  return config_lib.ExperimentConfig(
      protocol=protocol_name, network=spec.name, dataset=FLAGS.dataset,
      dataset_path=FLAGS.dataset_path,
      output_dir=distribution.worker_output_dir(FLAGS.output_dir, FLAGS.distribute),
      dropout=FLAGS.dropout, validation_size=_validation_size(),
      trial=trials_from_flags()[0],
      seed=FLAGS.seed, jit_compile=FLAGS.jit_compile, deterministic=FLAGS.deterministic,
      progress_seconds=FLAGS.progress_seconds, checkpoint_interval=FLAGS.checkpoint_interval,
      pruning=_or_default(FLAGS.pruning, spec.pruning), rewind_iteration=FLAGS.rewind_iteration,
      precision=_precision(), distribute=FLAGS.distribute,
      distribute_devices=tuple(FLAGS.distribute_devices), cpu_devices=FLAGS.cpu_devices,
      **hyperparameters, **optional)


def _precision():
  """--precision, or mixed_float16 for its old spelling --mixed_precision."""
  if not FLAGS.mixed_precision:
    return FLAGS.precision
  if FLAGS['precision'].present and FLAGS.precision != 'mixed_float16':
    raise errors.UserInputError(f'--mixed_precision: an alias of --precision=mixed_float16; '
                                f'expected it without --precision={FLAGS.precision}')
  return 'mixed_float16'


def _validation_size():
  """--validation_size, or the dataset's default (an unknown --dataset is reported later)."""
  if FLAGS.validation_size is not None or FLAGS.dataset not in datasets.DATASETS:
    return _or_default(FLAGS.validation_size, config_lib.ExperimentConfig.validation_size)
  return datasets.default_validation_size(FLAGS.dataset)


def _check_network(protocol, spec):
  if not protocol.trains(spec):
    raise errors.UserInputError(
        f'--network={spec.name}: {protocol.name} trains LeNet-300-100 and Conv-2/4/6 only')


def _default_hyperparameters(spec, protocol):
  """The paper's settings for --network, or for its --dropout or --warmup variant; the
  protocol's own (edge-popup's for supermask) where it has them."""
  if FLAGS.dropout and FLAGS.warmup:
    raise errors.UserInputError('--dropout and --warmup: choose one variant')
  if protocol.hyperparameters:
    for variant in ('dropout', 'warmup'):
      if getattr(FLAGS, variant):
        raise errors.UserInputError(f'--{variant}: {protocol.name} has no {variant} variant')
    return getattr(spec, protocol.hyperparameters)
  if FLAGS.dropout:
    if spec.dropout_hyperparameters is None:
      raise errors.UserInputError(f'--dropout: {spec.name} has no dropout variant')
    return spec.dropout_hyperparameters
  if FLAGS.warmup:
    if spec.warmup_hyperparameters is None:
      raise errors.UserInputError(
          f'--warmup: {spec.name} has no warmup variant; set --warmup_iterations instead')
    return spec.warmup_hyperparameters
  return spec.hyperparameters


def trial_configs(config, trials):
  """`config` for each trial, each validated with its input files checked (preflight.check)."""
  configs = [dataclasses.replace(config, trial=trial) for trial in trials]
  for trial_config in configs:
    preflight.check(trial_config)
  return configs


def _run(protocol_name, configs, spec, dataset):
  """Builds the Experiment (this imports TensorFlow) and runs its protocol for each config
  (trial) in turn, reusing the network and compiled trainer."""
  # pylint: disable=g-import-not-at-top  (TensorFlow: only once the checks have passed)
  if configs[0].deterministic:  # XLA reads its flags once: before TensorFlow is imported
    determinism.request_xla_determinism()
  console.import_tensorflow()
  from lottery_ticket import experiment as experiment_lib
  protocol = spec_lib.resolve(catalog.get(protocol_name).entry_point)
  built = experiment_lib.Experiment(configs[0], spec, dataset)
  try:
    for index, config in enumerate(configs):
      if index:
        built = built.reconfigure(config, preflight.load_dataset(config))
      protocol(built)
  finally:
    built.close()


def run(protocol_name, networks, default_dataset):
  """Defines the flags, parses them and runs `protocol_name`; user mistakes exit with one line."""
  groups = define_flags(protocol_name, networks, default_dataset)

  def main(argv):
    if len(argv) > 1:
      errors.exit_with_error(
          f'unexpected arguments {argv[1:]}; every setting is a --flag (see --helpfull)')
    with interrupts.handled():
      try:
        config = config_from_flags(protocol_name, networks)
        configs = trial_configs(config, trials_from_flags())
        dataset = preflight.load_dataset(config)
        print(f'{protocol_name}: network={config.network} dataset={config.dataset} '
              f'training_iterations={config.training_iterations} batch_size={config.batch_size} '
              f'learning_rate={config.learning_rate} output_dir={config.output_dir}', flush=True)
        _run(protocol_name, configs, networks[config.network], dataset)
        print(f'report: python -m lottery_ticket.analysis.report '
              f'--experiment_dir={FLAGS.output_dir} --output_dir={FLAGS.output_dir}/report',
              flush=True)
      except errors.UserInputError as e:
        errors.exit_with_error(str(e))
      except errors.TrainingDivergedError as e:
        errors.exit_with_error(f'training diverged: {e}; try a smaller --learning_rate')
      except OSError as e:  # e.g. the disk filled up, or the directory changed under the run
        errors.exit_with_error(errors.os_error_message(e, 'output_dir', FLAGS.output_dir or '.'))
      except interrupts.Interrupted as e:
        print(f'{e}, re-run the same command to resume', file=sys.stderr, flush=True)
        sys.exit(e.exit_status)

  app.run(main, flags_parser=console.parse_flags(groups))
