"""The kinds of run the analysis tells apart (runs.csv's `kind`): their report labels, roles and
colours, the protocols' vocabulary for the report, kept in one place beside the catalog.

A run's kind is what its protocol's `kind_of` gives (catalog.py): the protocol's name, with a
mask criterion or reinit mode appended where it is not the default ('lottery_movement',
'reinit_reshuffle'). The analysis asks this module which kinds are tickets, controls, baselines
or learned masks; it never spells a protocol's name itself. Imports nothing.
"""

import dataclasses

TICKET = 'lottery'  # iterative pruning's levels (level 0: the dense network)
ONE_SHOT = 'one_shot'
RANDOM_PRUNE = 'random_prune'  # also instability's --control value
SINGLE = 'train'  # one training run (--masks, --presets)
# Pruning at initialization: one kind per variant, 'pai_{method}[_layerwise][_{ablation}]' (random:
# 'pai_random_{distribution}'); protocols.naming.pai_name gives the part after the prefix.
PAI_PREFIX = 'pai_'
PAI_METHOD_LABELS = {'snip': 'SNIP', 'grasp': 'GraSP', 'synflow': 'SynFlow',
                     'magnitude': 'magnitude at init', 'random': 'random at init'}
# Dynamic sparse training: 'sparse_{method}_{distribution}' (protocols.naming.sparse_name), and
# its final mask retrained from θ0 by `train --masks=RUN`: 'sparse_{method}_{distribution}_ticket'.
SPARSE_PREFIX = 'sparse_'
SPARSE_TICKET_SUFFIX = '_ticket'
SPARSE_METHOD_LABELS = {'rigl': 'RigL', 'set': 'SET', 'static': 'static sparse'}
ROLES = ('ticket', 'control', 'baseline', 'learned', 'single', 'search')
EARLY_BIRD_SEARCH = 'lottery_early_bird'  # truncated trainings (protocols.early_bird)
EARLY_BIRD_TICKET = 'early_bird_ticket'


@dataclasses.dataclass(frozen=True)
class Kind:
  label: str  # the report's name for it
  role: str  # one of ROLES: how the report compares it with the tickets
  color: str  # matplotlib colour in every figure


# The report's display order; unknown kinds sort last under their own name.
KINDS = {
    TICKET: Kind('winning ticket (iterative pruning)', 'ticket', 'tab:blue'),
    ONE_SHOT: Kind('winning ticket (one-shot pruning)', 'ticket', 'tab:green'),
    'reinit': Kind('random reinit', 'control', 'tab:orange'),
    'reinit_sample_original': Kind('random reinit (original distribution)', 'control',
                                   'tab:red'),
    'reinit_sample_original_signs': Kind('random reinit (original signs)', 'control',
                                         'tab:purple'),
    RANDOM_PRUNE: Kind('random pruning', 'control', 'tab:brown'),
    'tfmot_pruning': Kind('tfmot gradual magnitude pruning', 'baseline', 'tab:olive'),
    EARLY_BIRD_TICKET: Kind('early-bird ticket (mask drawn once it stopped moving)', 'baseline',
                            'darkgoldenrod'),
    EARLY_BIRD_SEARCH: Kind('early-bird search (stopped once the mask stopped moving)',
                            'search', 'tab:gray'),
    'edge_popup': Kind('mask learned on frozen weights (edge-popup)', 'learned', 'tab:cyan'),
    'biprop': Kind('binary mask learned on frozen weights (biprop)', 'learned', 'tab:pink'),
    SINGLE: Kind('single training run', 'single', 'tab:gray'),
    'reinit_reshuffle': Kind('random reinit (reshuffled survivors)', 'control', 'tab:cyan'),
    'reinit_signed_constant': Kind('random reinit (signed constant)', 'control', 'tab:pink'),
}
# Kinds that another --mask_criterion than magnitude suffixes with '_{criterion}'.
PRUNED_KINDS = (TICKET, ONE_SHOT)


def is_pai(kind):
  """Whether `kind` is a pruning-at-initialization run's."""
  return kind.startswith(PAI_PREFIX)


def pai_label(kind):
  """'SNIP', 'SynFlow (layerwise, invert)', 'random at init (erk)' of a PaI kind."""
  method, *rest = kind[len(PAI_PREFIX):].split('_')  # random's first part: its distribution
  label = PAI_METHOD_LABELS.get(method, method)
  return f'{label} ({", ".join(rest)})' if rest else label


def is_sparse(kind):
  """Whether `kind` is a dynamic-sparse-training run's or its retrained ticket's."""
  return kind.startswith(SPARSE_PREFIX)


def is_sparse_ticket(kind):
  return is_sparse(kind) and kind.endswith(SPARSE_TICKET_SUFFIX)


def sparse_parts(kind):
  """('rigl', 'erk') of 'sparse_rigl_erk' and of its retrained mask 'sparse_rigl_erk_ticket'."""
  name = kind[len(SPARSE_PREFIX):]
  if name.endswith(SPARSE_TICKET_SUFFIX):
    name = name[:-len(SPARSE_TICKET_SUFFIX)]
  method, _, distribution = name.partition('_')
  return method, distribution


def sparse_label(kind):
  """'RigL (erk)', 'static sparse (uniform)', 'RigL mask retrained from θ0 (erk)'."""
  method, distribution = sparse_parts(kind)
  label = SPARSE_METHOD_LABELS.get(method, method)
  label += ' mask retrained from θ0' if is_sparse_ticket(kind) else ''
  return f'{label} ({distribution})' if distribution else label


def with_role(role):
  """The kinds of `role` (see ROLES), in display order."""
  return tuple(name for name, kind in KINDS.items() if kind.role == role)


# Random controls of a ticket's mask or weights, in the figures' order (with_role('control')).
CONTROL_KINDS = ('reinit', 'reinit_sample_original', 'reinit_sample_original_signs',
                 'reinit_signed_constant', 'reinit_reshuffle', RANDOM_PRUNE)
BASELINE_KINDS = with_role('baseline')  # other ways to a sparse network, trained from θ0
LEARNED_KINDS = with_role('learned')  # masks learned on frozen weights
