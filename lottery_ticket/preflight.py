"""What a runner checks before it imports TensorFlow: flags, directories, input files, dataset.

Importing TensorFlow takes seconds, so everything that can be checked without it is checked
first and a mistake is reported at once. What needs the network itself (mask and weight shapes,
checkpoints) is checked when the experiment is built and run, still before anything is trained
or written. Nothing here imports TensorFlow (tensorflow-datasets does, if a dataset comes from it).
"""

import os

from foundations import errors
from foundations import paths
from foundations import save_restore
from lottery_ticket import datasets
from lottery_ticket.protocols import naming


def run_file(path, default_name, flag):
  """`path` if it is a file, else `default_name` inside the run directory `path`."""
  candidate = os.path.join(path, default_name) if os.path.isdir(path) else path
  if not os.path.isfile(candidate):
    raise errors.UserInputError(
        f'--{flag}={path}: not found (expected an .npz file or a run directory with '
        f'{default_name})')
  return candidate


def control_masks_path(config, level):
  """The masks.npz of lottery level `level`, which a control (--level) trains; it must exist."""
  path = os.path.join(naming.ticket_dir(config.output_dir, config.trial, level), paths.MASKS)
  if not os.path.isfile(path):
    raise errors.UserInputError(
        f'--level={level}: {path} not found; run the lottery experiment with --levels>={level} '
        f'and the same --output_dir and --trial first')
  return path


def input_files(config):
  """The .npz files an experiment reads before it trains: --masks, --presets, and the masks of
  each --level's ticket (a protocol whose catalog inputs name 'pruned_lottery_masks',
  instability, reads none for level 0: the dense network)."""
  files = [run_file(config.masks, paths.MASKS, 'masks')] if config.masks else []
  if config.presets:
    files.append(run_file(config.presets, paths.INITIAL_WEIGHTS, 'presets'))
  dense_level_zero = 'pruned_lottery_masks' in config.protocol_spec.inputs
  return files + [control_masks_path(config, level) for level in config.ticket_levels
                  if level > 0 or not dense_level_zero]


def prepare(config):
  """Validates `config`, checks that its input files are readable and loads the dataset.

  Returns:
    The datasets.Dataset of `config`, validation split held out.

  Raises:
    errors.UserInputError: naming the flag or file at fault.
  """
  check(config)
  return load_dataset(config)


def check(config):
  """prepare's checks that need no dataset: flags, output directory, input files."""
  config.validate()
  for path in input_files(config):
    save_restore.load_arrays(path)  # readable; shapes are checked against the network later


def load_dataset(config):
  """The dataset of `config` (prepare without the checks)."""
  dataset = datasets.load(config.dataset, config.dataset_path, config.validation_size,
                          seed=config.seed_for('validation_split'))
  if config.batch_size > len(dataset.train[1]):
    raise errors.UserInputError(
        f'--batch_size={config.batch_size}: larger than the {len(dataset.train[1])} '
        'training examples')
  return dataset
