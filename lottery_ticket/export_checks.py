"""What `python -m lottery_ticket.export` checks before it imports TensorFlow.

A run directory can be exported only if it is a finished run of one of this project's
Sequential networks: summary.json says 'complete' (not diverged), masks.npz and final.npz are
readable, and an experiment.json above it records the settings the run was trained with (so the
run's dataset can be loaded as it was). Anything else is refused with one line naming
--run_dir or the file at fault.
"""

import dataclasses
import importlib
import os
from typing import Optional

from foundations import errors
from foundations import paths
from foundations import save_restore
from lottery_ticket import config as config_lib
from lottery_ticket import datasets
from lottery_ticket import recorded_settings
from lottery_ticket.protocols import naming

EXPORT_JSON = 'export.json'
NETWORK_MODULES = ('mnist_fc.constants', 'cifar_conv.constants')  # their NETWORKS are exported
_SEARCH_DEPTH = 4  # run directories sit at most this deep below their experiment directory


@dataclasses.dataclass(frozen=True)
class RunToExport:
  """A checked run directory: its summary, files, network and what it was trained on."""
  run_dir: str
  summary: dict
  spec: object  # network.NetworkSpec
  experiment_dir: str
  settings: dict  # experiment.json
  dense_run_dir: Optional[str]  # the trial's level-0 lottery run, if complete


def networks():
  """{name: NetworkSpec} of every network this project defines (no TensorFlow import)."""
  specs = {}
  for module in NETWORK_MODULES:
    specs.update(importlib.import_module(module).NETWORKS)
  return specs


def _experiment_dir(run_dir):
  directory = os.path.abspath(run_dir)
  for _ in range(_SEARCH_DEPTH):
    directory = os.path.dirname(directory)
    if os.path.isfile(os.path.join(directory, recorded_settings.SETTINGS_FILE)):
      return directory
  raise errors.UserInputError(
      f'--run_dir={run_dir}: no {recorded_settings.SETTINGS_FILE} in the directories above it '
      '(not a run directory of this project?)')


def _dense_run_dir(experiment_dir, trial):
  candidate = naming.ticket_dir(experiment_dir, trial, 0)
  complete = os.path.isfile(os.path.join(candidate, paths.FINAL_WEIGHTS))
  return candidate if complete and paths.is_complete(candidate) else None


def check_run_dir(run_dir):
  """Refuses an incomplete, diverged or foreign run directory; returns a RunToExport.

  Raises:
    errors.UserInputError naming --run_dir or the file at fault.
  """
  if not run_dir:
    raise errors.UserInputError('--run_dir: required (a finished run directory)')
  if not os.path.isdir(run_dir):
    raise errors.UserInputError(f'--run_dir={run_dir}: no such directory')
  if not paths.is_complete(run_dir):
    raise errors.UserInputError(
        f'--run_dir={run_dir}: incomplete (no {paths.SUMMARY}: a run in progress, or not a '
        'run directory)')
  summary = save_restore.load_json_object(os.path.join(run_dir, paths.SUMMARY))
  status = summary.get('status', 'complete')
  if status == 'diverged':
    raise errors.UserInputError(
        f'--run_dir={run_dir}: the run diverged ({summary.get("error")}); nothing to export')
  if status != 'complete':
    raise errors.UserInputError(f'--run_dir={run_dir}: status {status!r}, not a finished run')
  specs = networks()
  name = summary.get('network')
  if name not in specs:
    raise errors.UserInputError(
        f'--run_dir={run_dir}: {paths.SUMMARY} names network {name!r}, not one of this '
        f'project\'s ({", ".join(sorted(specs))})')
  if specs[name].normalize_inputs:
    raise errors.UserInputError(
        f'--run_dir={run_dir}: {name} cannot be exported yet (only LeNet-300-100 and '
        'Conv-2/4/6; ResNet and VGG normalise inputs with training-split statistics)')
  for file_name in (paths.MASKS, paths.FINAL_WEIGHTS):
    path = os.path.join(run_dir, file_name)
    if not os.path.isfile(path):
      raise errors.UserInputError(f'--run_dir={run_dir}: incomplete (no {file_name})')
    save_restore.load_arrays(path)  # readable; shapes are checked against the network later
  experiment_dir = _experiment_dir(run_dir)
  settings = save_restore.load_json_object(
      os.path.join(experiment_dir, recorded_settings.SETTINGS_FILE))
  return RunToExport(run_dir, summary, specs[name], experiment_dir, settings,
                     _dense_run_dir(experiment_dir, summary.get('trial', 1)))


def load_dataset(run, dataset_path=None):
  """The run's dataset, split as it was trained (--dataset_path overrides where it is read)."""
  source = run.summary.get('dataset_source')
  if dataset_path is None and source and os.path.isdir(source):
    dataset_path = source
  config = config_lib.ExperimentConfig(
      protocol='train', network=run.spec.name, dataset=run.summary.get('dataset', ''),
      output_dir=run.experiment_dir, training_iterations=1, batch_size=1, learning_rate=1.0,
      trial=int(run.summary.get('trial', 1)), seed=int(run.settings.get('seed', 0)))
  return datasets.load(config.dataset, dataset_path,
                       int(run.settings.get('validation_size', 5000)),
                       seed=config.seed_for('validation_split'))


def check_output_dir(output_dir, run_dir):
  if not output_dir:
    raise errors.UserInputError('--output_dir: required (where to write the exported files)')
  if os.path.abspath(output_dir) == os.path.abspath(run_dir):
    raise errors.UserInputError(f'--output_dir={output_dir}: is the run directory itself')
  config_lib.check_writable(output_dir)
  if (os.path.isdir(output_dir) and os.listdir(output_dir)
      and not os.path.isfile(os.path.join(output_dir, EXPORT_JSON))):
    raise errors.UserInputError(
        f'--output_dir={output_dir}: not empty and not an earlier export (it would be replaced)')
