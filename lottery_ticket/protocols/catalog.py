"""Every protocol in one place: its flags, settings, checks, inputs, hooks and run names.

One `Protocol` per command (DESIGN.md §12). The runner defines a protocol's flags and builds its
config from them, config.validate adds its checks, preflight reads its input files, the
Experiment calls its hooks, the sweep plans its runs and the analysis loader names them, all by
asking this catalog; none of them compares a protocol's name with a string. Hooks and entry
points are 'module:function' names, imported only when called: this module imports no
TensorFlow (nor anything that does).
"""

import dataclasses
import fnmatch

from foundations import mask_criteria
from foundations import sparsity
from lottery_ticket.protocols import checks
from lottery_ticket.protocols import naming
from lottery_ticket.protocols import spec
from lottery_ticket.protocols import tasks
from lottery_ticket.protocols.spec import Flag
from lottery_ticket.protocols.spec import Protocol
from lottery_ticket.protocols.spec import Setting

# The values protocols' flags take (protocols.checks, with the checks of their settings).
CONTROLS = checks.CONTROLS
REINIT_MODES = checks.REINIT_MODES
WEIGHT_INITS = checks.WEIGHT_INITS
PAI_METHODS = checks.PAI_METHODS
PAI_ABLATIONS = checks.PAI_ABLATIONS
PAI_SCOPES = checks.PAI_SCOPES
DST_METHODS = checks.DST_METHODS


def _pai_distribution(values, flag):
  """--sparsity_distribution, ERK (RigL's default) for random when unset."""
  return getattr(values, flag) or ('erk' if 'random' in values.method else None)


LEVELS = Flag('levels', 'integer', 20, 'Prune rounds after the dense level 0.')
EARLY_BIRD = Flag('early_bird_epsilon', 'string', None,
                  'Early-bird tickets (You et al. 2020): stop each level\'s search training once '
                  'the next mask moves less than this fraction of weights over 5 evaluations, '
                  'prune there, and train each drawn ticket once in full (default: off).')
MASK_CRITERION = Flag(
    'mask_criterion', 'enum', 'magnitude',
    'How survivors are ranked for pruning (lowest removed): magnitude |wT|, '
    'large_init |w0|, magnitude_increase |wT|-|w0|, movement |wT-w0|, '
    'large_final_same_sign (sign-flipped weights first), random.', tuple(mask_criteria.CRITERIA))
PERCENT_REMAINING = Flag('percent_remaining', 'list', ['51.3', '21.1', '7.0', '3.6'],
                         'Percent of weights to keep, each in (0, 100]; comma-separated.')
BINARIZE = Flag('binarize', 'boolean', False,
                'Binary weights: kernels α·sign(w)·mask, α = mean |w| kept in the layer '
                '(supermask: biprop; else straight-through training of latent weights).')
CONTROL_LEVEL = Flag('level', 'list', ['3'],
                     'Lottery levels whose masks to control; comma-separated.')
CONTROL_TRIALS = Flag('control_trials', 'integer', 1,
                      'Controls per ticket, each with its own seeds (1: level{L}/{kind}/; '
                      'k >= 2: level{L}/{kind}_control{k}/).')
REINIT_MODE = Flag('reinit_mode', 'enum', 'glorot',
                   'glorot: fresh initialisation; sample_original(_signs): values drawn '
                   'from the original initialisation (keeping the original signs); '
                   'signed_constant: sign(w0) x the layer\'s std of w0; reshuffle: the '
                   'surviving original values permuted among the surviving positions.',
                   REINIT_MODES)

_CRITERION = Setting('mask_criterion', 'mask_criterion', spec.value)
_PERCENTS = Setting('percent_remaining', 'percent_remaining', spec.floats)
_BINARIZE = Setting('binarize', 'binarize', spec.value)
_TICKET_LEVELS = Setting('ticket_levels', 'level', spec.integers)
_CONTROL_TRIALS = Setting('control_trials', 'control_trials', spec.counted)


def _supermask_weight_init(values, flag):
  # With --binarize a signed constant would make biprop edge-popup: α·sign(W) = W.
  return getattr(values, flag) or ('kaiming_normal' if values.binarize else WEIGHT_INITS[0])


def _lottery_kind(get):
  return naming.EARLY_BIRD_KINDS.get(get('early_bird', None)) or naming.criterion_kind(
      'lottery', get)


def _one_shot_kind(get):
  return naming.criterion_kind('one_shot', get)


def _supermask_settings_file(config):
  return f'{naming.supermask_kind(naming.of_config(config))}.json'


def _random_prune_name(get):
  del get
  return 'random_prune'


def _tfmot_name(get):
  del get
  return 'tfmot_pruning'


_LOTTERY = 'lottery_ticket.protocols.lottery'
_CONTROLS = 'lottery_ticket.protocols.controls'

REGISTRY = {protocol.name: protocol for protocol in (
    Protocol('train', f'{_LOTTERY}:train_one_run',
             flags=(BINARIZE,
                    Flag('masks', 'string', None,
                         'Masks .npz file or run directory (default: no pruning).'),
                    Flag('presets', 'string', None,
                         'Initial weights .npz file or run directory (default: fresh init).')),
             settings=(Setting('masks', 'masks', spec.value),
                       Setting('presets', 'presets', spec.value),
                       _BINARIZE),
             inputs=('masks', 'presets'), run_dirs=naming.train_runs, run_kind=naming.train_kind,
             run_names=('train',)),
    Protocol('lottery', f'{_LOTTERY}:lottery',
             flags=(LEVELS, MASK_CRITERION, BINARIZE, EARLY_BIRD),
             settings=(Setting('levels', 'levels', spec.value), _CRITERION, _BINARIZE,
                       Setting('early_bird_epsilon', 'early_bird_epsilon', spec.optional_float)),
             checks=checks.lottery_checks,
             run_dirs=naming.lottery_runs, run_kind=_lottery_kind, run_groups=('level*',),
             task=tasks.level_task, plan_priority=0),
    Protocol('one_shot', f'{_LOTTERY}:one_shot', flags=(MASK_CRITERION, PERCENT_REMAINING,
                                                        BINARIZE),
             settings=(_CRITERION, _PERCENTS, _BINARIZE), required=('percent_remaining',),
             run_dirs=naming.one_shot_runs, run_kind=_one_shot_kind,
             run_groups=('one_shot', 'one_shot_*'), task=tasks.percent_task, plan_priority=1),
    Protocol('reinit', f'{_CONTROLS}:reinit',
             flags=(BINARIZE, CONTROL_LEVEL, CONTROL_TRIALS, REINIT_MODE),
             settings=(_TICKET_LEVELS, _CONTROL_TRIALS,
                       Setting('reinit_mode', 'reinit_mode', spec.value), _BINARIZE),
             required=('ticket_levels',), inputs=('lottery_masks',),
             run_dirs=naming.control_runs(naming.reinit_name), run_kind=naming.reinit_name,
             run_groups=('level*',),
             task=tasks.control_task),
    Protocol('random_prune', f'{_CONTROLS}:random_prune',
             flags=(BINARIZE, CONTROL_LEVEL, CONTROL_TRIALS),
             settings=(_TICKET_LEVELS, _CONTROL_TRIALS, _BINARIZE),
             required=('ticket_levels',), inputs=('lottery_masks',),
             run_dirs=naming.control_runs(_random_prune_name), run_groups=('level*',),
             task=tasks.control_task),
    Protocol('instability', 'lottery_ticket.protocols.instability:instability',
             flags=(Flag('level', 'list', ['0'], 'Lottery levels whose masks to analyse (0: '
                         'the dense network); comma-separated.'),
                    Flag('masks', 'string', None,
                         'Also analyse this masks .npz file or run directory.'),
                    Flag('control', 'enum', 'none',
                         'random_prune: analyse random masks with the same per-layer counts.',
                         CONTROLS),
                    Flag('spawn_iterations', 'list', ['0'],
                         'Iterations k at which the two copies split; comma-separated.'),
                    Flag('interpolation_points', 'integer', 30,
                         'Evenly spaced α values in [0, 1].')),
             settings=(_TICKET_LEVELS, Setting('masks', 'masks', spec.value),
                       Setting('control', 'control', spec.value),
                       Setting('spawn_iterations', 'spawn_iterations', spec.integers),
                       Setting('interpolation_points', 'interpolation_points', spec.value)),
             inputs=('masks', 'pruned_lottery_masks'),
             extra_splits='lottery_ticket.protocols.instability:extra_splits',
             run_dirs=naming.instability_runs),
    Protocol('tfmot_pruning', 'lottery_ticket.protocols.tfmot_pruning:tfmot_pruning',
             flags=(PERCENT_REMAINING,), settings=(_PERCENTS,), required=('percent_remaining',),
             checks=checks.tfmot_checks, distributable=False,
             trains=lambda network: not network.normalize_inputs,
             run_dirs=naming.percent_runs(_tfmot_name, 'tfmot'), run_groups=('tfmot_pruning',)),
    Protocol('supermask', 'lottery_ticket.protocols.supermask:supermask',
             flags=(Flag('percent_remaining', 'list', ['50', '30', '10'],
                         'Percent of each layer\'s weights the learned mask keeps, each in '
                         '(0, 100]; comma-separated; one run per value.'),
                    Flag('weight_init', 'enum', None,
                         'The frozen weights, fan scaled by the kept fraction: '
                         'sign(w)·sqrt(2/fan_in) (edge-popup\'s best; the default), Kaiming '
                         'normal (the default with --binarize, as biprop), or the network\'s '
                         'Gaussian Glorot.', WEIGHT_INITS),
                    BINARIZE),
             settings=(_PERCENTS, Setting('weight_init', 'weight_init', _supermask_weight_init),
                       _BINARIZE),
             required=('percent_remaining',), frozen_weights=True,
             trains=lambda network: network.supermask_hyperparameters is not None,
             hyperparameters='supermask_hyperparameters',
             settings_file=_supermask_settings_file,
             model_transform='foundations.masked_layers:to_supermask',
             run_outputs='lottery_ticket.protocols.supermask:run_outputs',
             run_dirs=naming.percent_runs(naming.supermask_kind, None),
             run_kind=naming.supermask_kind,
             run_groups=('edge_popup', 'biprop')),
    Protocol('prune_at_init', 'lottery_ticket.protocols.prune_at_init:prune_at_init',
             flags=(Flag('method', 'list', ['snip'],
                         'How θ0 is scored, comma-separated: snip |g⊙w|, grasp (removes the '
                         'highest -w⊙Hg), synflow (data-free, iterative), magnitude |θ0|, '
                         'random (per-layer counts from --sparsity_distribution).'),
                    PERCENT_REMAINING,
                    Flag('scope', 'enum', 'global',
                         'global: the prunable layers pooled (the methods\' own setting); '
                         'layerwise: each layer keeps its share of iterative pruning at that '
                         'size.', PAI_SCOPES),
                    Flag('sparsity_distribution', 'enum', None,
                         'random: per-layer densities (paper: the counts iterative pruning '
                         'keeps; uniform; er; erk, the default).', sparsity.DISTRIBUTIONS),
                    Flag('ablation', 'list', ['none'],
                         'Sanity checks, comma-separated: none, shuffle (permute the mask in '
                         'each layer), reinit (fresh values for the kept weights), invert '
                         '(keep the lowest scores).'),
                    Flag('score_batches', 'integer', 1,
                         'Training minibatches SNIP and GraSP average over.'),
                    Flag('synflow_rounds', 'integer', 100,
                         'SynFlow\'s rounds of scoring and pruning.')),
             settings=(Setting('pai_methods', 'method', spec.strings), _PERCENTS,
                       Setting('pai_scope', 'scope', spec.value),
                       Setting('sparsity_distribution', 'sparsity_distribution',
                               _pai_distribution),
                       Setting('pai_ablations', 'ablation', spec.strings),
                       Setting('score_batches', 'score_batches', spec.value),
                       Setting('synflow_rounds', 'synflow_rounds', spec.value)),
             required=('percent_remaining', 'pai_methods'), checks=checks.pai_checks,
             distributable=False, run_dirs=naming.pai_runs, run_kind=naming.pai_kind,
             nested_run_groups=(naming.PAI_GROUP,), task=tasks.pai_task, plan_priority=1),
    Protocol('sparse_training', 'lottery_ticket.protocols.sparse_training:sparse_training',
             flags=(Flag('method', 'list', ['rigl'],
                         'How the mask moves during training, comma-separated: rigl (drop the '
                         'smallest |w|, grow where the dense gradient is largest), set (grow at '
                         'random), static (never: the control).'),
                    PERCENT_REMAINING,
                    Flag('sparsity_distribution', 'enum', 'erk',
                         'Per-layer densities of the initial random mask: erk (the default), '
                         'er, uniform, or paper (the counts iterative pruning keeps).',
                         sparsity.DISTRIBUTIONS),
                    Flag('update_interval', 'integer', 100,
                         'ΔT: iterations between mask updates.'),
                    Flag('drop_fraction', 'float', 0.3,
                         'α: the fraction of each layer\'s active weights the first update '
                         'moves (cosine-decayed to 0 at --update_end).'),
                    Flag('update_end', 'float', 0.75,
                         'The fraction of --training_iterations after which the mask is '
                         'frozen.')),
             settings=(Setting('dst_methods', 'method', spec.strings), _PERCENTS,
                       Setting('sparsity_distribution', 'sparsity_distribution', spec.value),
                       Setting('update_interval', 'update_interval', spec.value),
                       Setting('drop_fraction', 'drop_fraction', spec.value),
                       Setting('update_end', 'update_end', spec.value)),
             required=('percent_remaining',), checks=checks.sparse_training_checks,
             distributable=False, run_dirs=naming.sparse_runs, run_kind=naming.sparse_kind,
             nested_run_groups=(naming.SPARSE_GROUP,), task=tasks.sparse_task, plan_priority=1),
    Protocol('sweep', 'lottery_ticket.sweep:run',
             flags=(LEVELS, MASK_CRITERION, BINARIZE, REINIT_MODE), planner=True),
)}

# The protocols a runner records runs of (config.protocol's values), in --help's order.
PROTOCOL_NAMES = tuple(name for name, protocol in REGISTRY.items() if not protocol.planner)
NO_PROTOCOL = Protocol('', '')  # what an unknown config.protocol requires: nothing


def task_config(base, task):
  """The ExperimentConfig of one sweep task: `base` (the sweep's settings) narrowed to its run
  (task: {'protocol', 'trial', 'level', 'percent', 'control_trial'})."""
  protocol = get(task['protocol'])
  return dataclasses.replace(base, protocol=protocol.name, trial=task['trial'],
                             **protocol.task(task))


def get(name):
  """The Protocol called `name`; KeyError for an unknown name."""
  return REGISTRY[name]


def lookup(name):
  """The Protocol called `name`, or NO_PROTOCOL."""
  return REGISTRY.get(name, NO_PROTOCOL)


def run_group(name):
  """What the trial{N}/ child `name` is: 'runs' (holds run directories), 'groups' (holds
  directories of run directories), 'run' (is one, or its partial directory), or None."""
  for protocol in REGISTRY.values():
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in protocol.nested_run_groups):
      return 'groups'
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in protocol.run_groups):
      return 'runs'
    if name in protocol.run_names or name in [f'.{n}.partial' for n in protocol.run_names]:
      return 'run'
  return None
