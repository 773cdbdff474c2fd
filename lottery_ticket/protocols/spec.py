"""The shape of a catalog entry (protocols.catalog) and the flag parsers its settings use.

Nothing here imports TensorFlow.
"""

import dataclasses
import importlib
from typing import Callable, NamedTuple, Optional, Tuple

from foundations import errors


class Flag(NamedTuple):
  """One absl flag: kind is the DEFINE_ function's suffix (integer, float, enum, list, boolean,
  string); choices are an enum's values."""
  name: str
  kind: str
  default: object
  help: str
  choices: Tuple[str, ...] = ()


class Setting(NamedTuple):
  """A config field read from a flag: parse(flag values, flag name) gives its value."""
  field: str
  flag: str
  parse: Callable


class Run(NamedTuple):
  """One run directory a protocol writes, and the label its progress lines carry."""
  run_dir: str
  label: str


def parse_numbers(flag, values, kind):
  """(kind(v) for v in values), or UserInputError naming --flag."""
  try:
    return tuple(kind(value) for value in values)
  except ValueError:
    raise errors.UserInputError(
        f'--{flag}={",".join(values)}: expected comma-separated {kind.__name__} values') from None


def value(values, flag):
  return getattr(values, flag)


def floats(values, flag):
  return parse_numbers(flag, getattr(values, flag), float)


def optional_float(values, flag):
  """--flag as a float, or None when unset."""
  value = getattr(values, flag, None)  # None too where the command lacks the flag (sweep)
  if value is None:
    return None
  try:
    return float(value)
  except ValueError:
    raise errors.UserInputError(f'--{flag}={value}: expected a number') from None


def strings(values, flag):
  return tuple(getattr(values, flag))


def integers(values, flag):
  return parse_numbers(flag, getattr(values, flag), int)


def counted(values, flag):
  """--flag=K as (1, ..., K); K must be >= 1."""
  count = getattr(values, flag)
  if count < 1:
    raise errors.UserInputError(f'--{flag}={count}: expected an integer >= 1')
  return tuple(range(1, count + 1))


@dataclasses.dataclass(frozen=True)
class Protocol:
  """What the shared machinery needs to know of one protocol (see the module doc).

  Attributes:
    name: the protocol's name (config.protocol, summary.json's 'experiment').
    entry_point: 'module:function' run with the Experiment (the sweep: its main).
    flags: its own flags, in the order --help lists them.
    settings: its config fields from those flags, in the order they are parsed.
    required: config fields that need at least one value (validate's check).
    checks: config -> rows (ok, flag, expected) validate adds after the shared checks.
    frozen_weights: its weights are not trained (--rewind_iteration must be 0).
    distributable: it can train under --distribute.
    trains: NetworkSpec -> whether it can train that network.
    hyperparameters: the NetworkSpec attribute with its own defaults (no --dropout/--warmup
      variants), or None for the network's.
    inputs: what preflight reads before training: 'masks', 'presets' (the flags' files),
      'lottery_masks' (each --level's ticket), 'pruned_lottery_masks' (the same, level 0 dense).
    settings_file: config -> its own settings file name, or None for experiment.json.
    model_transform, extra_splits, run_outputs: 'module:function' hooks into the Experiment:
      model -> model; experiment -> {split name: (images, labels)}; (experiment, result,
      masks) -> (masks, {file name: arrays}).
    run_dirs: config -> [Run] every run a command of `config` writes, in order; a sweep task's
      config names one target, the last of them.
    run_kind: get(key, default) of a summary or config -> the run's kind in the analysis
      table, or None for the protocol's name.
    run_groups: fnmatch patterns of trial{N}/ children holding its run directories.
    run_names: names of trial{N}/ children that are themselves its runs.
    nested_run_groups: fnmatch patterns of trial{N}/ children holding directories of run
      directories (prune_at_init/{variant}/remaining{P}/).
    task: a sweep task {'level', 'percent', 'control_trial'} -> its config changes.
    plan_priority: the sweep's order: lower first (the critical path).
    planner: the command plans runs of other protocols and records none itself (the sweep).
  """
  name: str
  entry_point: str
  flags: Tuple[Flag, ...] = ()
  settings: Tuple[Setting, ...] = ()
  required: Tuple[str, ...] = ()
  checks: Optional[Callable] = None
  frozen_weights: bool = False
  distributable: bool = True
  trains: Callable = lambda network: True
  hyperparameters: Optional[str] = None
  inputs: Tuple[str, ...] = ()
  settings_file: Optional[Callable] = None
  model_transform: Optional[str] = None
  extra_splits: Optional[str] = None
  run_outputs: Optional[str] = None
  run_dirs: Optional[Callable] = None
  run_kind: Optional[Callable] = None
  run_groups: Tuple[str, ...] = ()
  run_names: Tuple[str, ...] = ()
  nested_run_groups: Tuple[str, ...] = ()
  task: Optional[Callable] = None
  plan_priority: int = 2
  planner: bool = False

  def kind_of(self, get):
    """The analysis kind of a run recorded with these settings (see run_kind)."""
    return self.run_kind(get) if self.run_kind else self.name


def resolve(name):
  """The function a 'module:function' name stands for (imports the module)."""
  module, _, function = name.partition(':')
  return getattr(importlib.import_module(module), function)


