"""The one naming rule of every protocol's run directories and labels.

The protocols write, the sweep plans and the analysis loader reads runs by these functions.
A rule takes `get(key, default)` over a config's attributes (of_config) or a summary's keys.
Nothing here imports TensorFlow.
"""

import hashlib
import os

from foundations import paths
from lottery_ticket.protocols import kinds
from lottery_ticket.protocols.spec import Run

DENSE = 'lottery'  # the run directory of a trial's dense network: level0/lottery/


def criterion_kind(name, get):
  """'lottery', 'one_shot' as named for --mask_criterion: magnitude keeps the plain name,
  another criterion is appended ('lottery_movement')."""
  criterion = get('mask_criterion', 'magnitude')
  return name if criterion == 'magnitude' else f'{name}_{criterion}'


def reinit_name(get):
  """'reinit', or 'reinit_{mode}' for another --reinit_mode than glorot."""
  mode = get('reinit_mode', None)
  return f'reinit_{mode}' if mode and mode != 'glorot' else 'reinit'


def supermask_kind(get):
  """'biprop' (binary weights) or 'edge_popup': the kind and directory of a supermask run."""
  return get('kind', None) or ('biprop' if get('binarize', False) else 'edge_popup')


PAI_GROUP = 'prune_at_init'  # trial{N}/prune_at_init/{pai_name}/remaining{P}/


def pai_name(method, scope='global', ablation='none', distribution=None):
  """A pruning-at-initialization variant's directory under prune_at_init/: 'snip',
  'synflow_layerwise', 'grasp_invert', 'random_erk' (random: named by its distribution)."""
  name = f'random_{distribution}' if method == 'random' else method
  if scope == 'layerwise' and method != 'random':
    name += '_layerwise'
  return name if ablation == 'none' else f'{name}_{ablation}'


def pai_kind(get):
  """'pai_{pai_name}' of a PaI run's summary (method, scope, ablation, sparsity_distribution)."""
  return kinds.PAI_PREFIX + pai_name(get('method', ''), get('scope', 'global'),
                                     get('ablation', 'none'), get('sparsity_distribution', None))


def pai_variants(config):
  """[(method, ablation, percent remaining)] of every run a PaI command trains, in order."""
  return [(method, ablation, percent) for method in config.pai_methods
          for ablation in config.pai_ablations for percent in config.percent_remaining]


def pai_runs(config):
  runs = []
  for method, ablation, percent in pai_variants(config):
    name = pai_name(method, config.pai_scope, ablation, config.sparsity_distribution)
    runs.append(Run(os.path.join(paths.trial_dir(config.output_dir, config.trial), PAI_GROUP,
                                 name, f'remaining{percent:g}'),
                    f'trial{config.trial} {name} {percent:g}%'))
  return runs


def level_label(trial, level, name):
  return f'trial{trial} level{level} {name}'


def of_config(config):
  """get(key, default) over a config's attributes, for the naming rules."""
  return lambda key, default: getattr(config, key, default)


def ticket_dir(output_dir, trial, level):
  """level{L}/lottery/: the magnitude ticket of a level (level 0: the dense network), whose
  masks the controls and instability read."""
  return paths.run_dir(output_dir, trial, level, DENSE)


def dense_run(config):
  return Run(ticket_dir(config.output_dir, config.trial, 0), level_label(config.trial, 0, DENSE))


# Early-bird runs (protocols.early_bird): summary 'early_bird' -> kind and directory name.
EARLY_BIRD_KINDS = {'search': 'lottery_early_bird', 'ticket': 'early_bird_ticket'}


def early_bird_runs(config):
  """Per level L < --levels: its search (level{L}/lottery_early_bird/, trained until its mask
  stops moving), then the ticket drawn from it (level{L+1}/early_bird_ticket/)."""
  runs = []
  for level in range(config.levels):
    for at, role in ((level, 'search'), (level + 1, 'ticket')):
      name = EARLY_BIRD_KINDS[role]
      runs.append(Run(paths.run_dir(config.output_dir, config.trial, at, name),
                      level_label(config.trial, at, f'early-bird {role}')))
  return runs


def lottery_runs(config):
  if getattr(config, 'early_bird_epsilon', None):
    return early_bird_runs(config)
  kind = criterion_kind('lottery', of_config(config))
  return [dense_run(config)] + [
      Run(paths.run_dir(config.output_dir, config.trial, level, kind),
          level_label(config.trial, level, kind)) for level in range(1, config.levels + 1)]


def one_shot_runs(config):
  kind = criterion_kind('one_shot', of_config(config))
  return [dense_run(config)] + [
      Run(paths.remaining_dir(config.output_dir, config.trial, kind, percent),
          f'trial{config.trial} {kind.replace("_", "-", 1)} {percent:g}%')
      for percent in config.percent_remaining]


def control_runs(name):
  """The naming rule of a control called `name(get)`: level{L}/{name}[_control{k}]."""
  def runs(config):
    base = name(of_config(config))
    return [Run(paths.run_dir(config.output_dir, config.trial, level,
                              paths.control_name(base, k)),
                level_label(config.trial, level, paths.control_name(base, k)))
            for k in config.control_trials for level in config.ticket_levels]
  return runs


def train_runs(config):
  """trial{N}/train/; a sparse-training run's mask (--masks) retrained from θ0 goes beside it,
  in sparse_training/{variant}_ticket/remaining{P}/."""
  trial_dir = paths.trial_dir(config.output_dir, config.trial)
  source = sparse_run_of(config.masks) if config.masks else None
  if source is not None:
    variant, remaining = source
    return [Run(os.path.join(trial_dir, SPARSE_GROUP, variant + kinds.SPARSE_TICKET_SUFFIX,
                             remaining), f'trial{config.trial} {variant} ticket {remaining[9:]}%')]
  return [Run(os.path.join(trial_dir, 'train'), f'trial{config.trial} train')]


def train_kind(get):
  """'train', or 'sparse_{variant}_ticket' for a sparse-training run's mask retrained."""
  source = get('ticket_of', None)
  return source + kinds.SPARSE_TICKET_SUFFIX if source else kinds.SINGLE


# Dynamic sparse training (protocols.sparse_training): trial{N}/sparse_training/{variant}/
# remaining{P}/, variant '{method}_{distribution}' ('rigl_erk').
SPARSE_GROUP = 'sparse_training'


def sparse_name(method, distribution):
  return f'{method}_{distribution}'


def sparse_kind(get):
  return sparse_kind_of_variant(sparse_name(get('method', ''), get('sparsity_distribution', '')))


def sparse_kind_of_variant(variant):
  """The kind of the runs in sparse_training/{variant}/ ('rigl_erk' -> 'sparse_rigl_erk')."""
  return kinds.SPARSE_PREFIX + variant


def sparse_variants(config):
  """[(method, percent remaining)] of every run a sparse_training command trains, in order."""
  return [(method, percent) for method in config.dst_methods
          for percent in config.percent_remaining]


def sparse_runs(config):
  trial_dir = paths.trial_dir(config.output_dir, config.trial)
  runs = []
  for method, percent in sparse_variants(config):
    name = sparse_name(method, config.sparsity_distribution)
    runs.append(Run(os.path.join(trial_dir, SPARSE_GROUP, name, f'remaining{percent:g}'),
                    f'trial{config.trial} {name} {percent:g}%'))
  return runs


def sparse_run_of(masks_path):
  """(variant, 'remaining{P}') if `masks_path` is a sparse-training run directory (or its
  masks.npz), else None."""
  run_dir = os.path.abspath(masks_path)
  if os.path.basename(run_dir) == paths.MASKS:
    run_dir = os.path.dirname(run_dir)
  variant_dir = os.path.dirname(run_dir)
  if (os.path.basename(os.path.dirname(variant_dir)) != SPARSE_GROUP or
      not os.path.basename(run_dir).startswith('remaining') or
      os.path.basename(variant_dir).endswith(kinds.SPARSE_TICKET_SUFFIX)):
    return None
  return os.path.basename(variant_dir), os.path.basename(run_dir)


def percent_runs(kind, label):
  """The naming rule of runs pruned to each --percent_remaining: {kind}/remaining{P}/."""
  def runs(config):
    name = kind(of_config(config))
    return [Run(paths.remaining_dir(config.output_dir, config.trial, name, percent),
                f'trial{config.trial} {label or name} {percent:g}%')
            for percent in config.percent_remaining]
  return runs


def instability_mask_name(level=None, masks_path=None, control='none'):
  """The directory of one mask set: level{L}, or masks_{hash of the --masks file}; with
  --control=random_prune suffixed _random_prune."""
  name = (f'level{level}' if masks_path is None
          else 'masks_' + hashlib.sha1(masks_path.encode()).hexdigest()[:8])
  return f'{name}_random_prune' if control == 'random_prune' else name


def instability_runs(config):
  # pylint: disable=g-import-not-at-top  (preflight asks this catalog for input files)
  from lottery_ticket import preflight
  names = [instability_mask_name(level=level, control=config.control)
           for level in config.ticket_levels]
  if config.masks:
    path = os.path.abspath(preflight.run_file(config.masks, paths.MASKS, 'masks'))
    names.append(instability_mask_name(masks_path=path, control=config.control))
  return [Run(paths.instability_dir(config.output_dir, config.trial, name, k),
              f'trial{config.trial} {name} k={k}')
          for name in names for k in config.spawn_iterations]


