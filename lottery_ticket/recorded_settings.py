"""experiment.json: the settings every run of an output directory shares, recorded by the first
run and checked by every later one (an old directory reads as the settings it ran with)."""

import os

from foundations import errors
from foundations import save_restore

def flag_text(value):
  """A value as it would be typed on the command line."""
  if isinstance(value, (tuple, list)):
    return ','.join(flag_text(v) for v in value)
  return f'{value:g}' if isinstance(value, float) else str(value)



# Settings that change results: an output directory holds runs of one value of each.
RESULT_SETTINGS = ('network', 'dataset', 'training_iterations', 'batch_size', 'learning_rate',
                   'dropout', 'eval_interval', 'validation_size', 'seed', 'jit_compile',
                   'optimizer', 'momentum', 'weight_decay', 'lr_milestones', 'lr_gamma',
                   'warmup_iterations', 'augment', 'pruning', 'rewind_iteration', 'precision',
                   'lr_schedule', 'binarize')
# What experiments recorded before a setting existed ran with.
_EARLIER_DEFAULTS = dict(optimizer='adam', momentum=0.0, weight_decay=0.0, lr_milestones=[],
                         lr_gamma=0.1, warmup_iterations=0, augment=False, pruning='layerwise',
                         rewind_iteration=0, lr_schedule='step', binarize=False)
SETTINGS_FILE = 'experiment.json'
# Learned masks share the lottery experiment's --output_dir (one report shows both) but train
# with their own settings, recorded in a file per kind (edge_popup.json, biprop.json; --binarize
# picks the kind and its directory), so edge-popup and biprop live side by side, each with its
# own --weight_init.
SUPERMASK_SETTINGS = tuple(s for s in RESULT_SETTINGS if s != 'binarize') + ('weight_init',)
# What a protocol with its own settings file (supermask) shares with experiment.json.
SHARED_SETTINGS = ('network', 'dataset', 'seed', 'validation_size')


def settings_file(config):
  """(file name, the settings it records) of `config`'s protocol: experiment.json, or the
  protocol's own file (supermask: edge_popup.json / biprop.json)."""
  own_file = config.protocol_spec.settings_file
  if own_file:
    return own_file(config), SUPERMASK_SETTINGS
  return SETTINGS_FILE, RESULT_SETTINGS


def _settings(config, names=RESULT_SETTINGS):
  """The settings `names` as JSON values (tuples become lists)."""
  values = {name: getattr(config, name) for name in names}
  return {name: list(v) if isinstance(v, tuple) else v for name, v in values.items()}


def _check_recorded(config, file_name, names):
  path = os.path.join(config.output_dir, file_name)
  if not os.path.exists(path):
    return
  recorded = dict(_EARLIER_DEFAULTS, **save_restore.load_json_object(path))
  old_precision = 'mixed_float16' if recorded.get('mixed_precision') else 'float32'
  recorded.setdefault('precision', old_precision)  # recorded before --precision existed
  settings = _settings(config, names)
  differences = [f'--{name}={flag_text(settings[name])} (was {flag_text(recorded.get(name))})'
                 for name in names if recorded.get(name) != settings[name]
                 and settings[name] is not None]  # None: decided later (--jit_compile)
  if differences:
    raise errors.UserInputError(
        f'--output_dir={config.output_dir} holds an experiment with other settings: '
        f'{", ".join(differences)}; use those settings or another --output_dir')


def check_settings(config):
  """Refuses an --output_dir whose recorded settings differ from `config`'s (a supermask run:
  its kind's own edge_popup.json or biprop.json, and network, dataset, seed and validation split
  of experiment.json).

  Raises:
    UserInputError listing every flag whose value differs from the recorded one.
  """
  _check_recorded(config, *settings_file(config))
  if config.protocol_spec.settings_file:
    _check_recorded(config, SETTINGS_FILE, SHARED_SETTINGS)


def record_settings(config):
  """Writes {output_dir}/experiment.json, or edge_popup.json / biprop.json (once; later runs
  are checked against it).

  The file is created atomically (a complete temporary file hard-linked into place, which
  fails if it exists), so of processes starting at once exactly one writes it and the others
  are checked against it.
  """
  file_name, names = settings_file(config)
  path = os.path.join(config.output_dir, file_name)
  if os.path.exists(path):
    return
  temporary = f'{path}.{os.getpid()}.{id(config)}.tmp'
  save_restore.save_json(temporary, _settings(config, names))
  try:
    os.link(temporary, path)
  except FileExistsError:
    check_settings(config)  # another process recorded it first
  finally:
    os.remove(temporary)
