"""One runner invocation's settings, validated, with the seeds derived from (--seed, --trial)."""

import dataclasses
import math
import os
import tempfile
from typing import Optional, Tuple

import numpy as np

from foundations import distribution
from foundations import errors
from foundations import mask_criteria
from lottery_ticket import network as network_lib
from lottery_ticket import recorded_settings
from lottery_ticket.protocols import catalog

OPTIMIZERS = ('adam', 'sgd')  # foundations.optimizers (kept here: checking needs no TensorFlow)
LR_SCHEDULES = ('step', 'cosine')  # foundations.optimizers.LR_SCHEDULES
PRUNING = ('layerwise', 'global')
PRECISIONS = ('float32', 'mixed_bfloat16', 'mixed_float16')  # --precision: Keras policies
PROTOCOL_NAMES = catalog.PROTOCOL_NAMES  # lottery_ticket.protocols.catalog
# Every random choice has its own stream, so e.g. changing the data order leaves θ0 unchanged.
SEED_PURPOSES = ('init', 'data_order', 'validation_split', 'dropout', 'reinit', 'random_prune',
                 'augment', 'copy_data_order', 'copy_augment', 'mask_criterion',
                 'supermask_weights', 'supermask_scores', 'pai_random', 'pai_shuffle',
                 'pai_reinit', 'sparse_mask', 'sparse_set')  # new purposes go last: earlier
# seeds stay the same


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExperimentConfig(network_lib.Hyperparameters):
  """Settings of one experiment: the training settings (network_lib.Hyperparameters, already
  resolved from the network's defaults and the flags) and everything else a runner takes."""
  protocol: str  # the catalog name: lottery, one_shot, reinit, ...
  network: str
  dataset: str
  output_dir: str
  dataset_path: Optional[str] = None
  dropout: bool = False
  validation_size: int = 5000
  trial: int = 1
  seed: int = 0
  levels: int = 0  # lottery: prune rounds after the dense level 0
  early_bird_epsilon: Optional[float] = None  # lottery: early-bird search (protocols.early_bird)
  percent_remaining: Tuple[float, ...] = ()  # one_shot, tfmot_pruning, supermask targets
  ticket_levels: Tuple[int, ...] = ()  # --level: the lottery levels whose tickets reinit and
  # random_prune control and instability analyses
  # reinit / random_prune: which controls per ticket to train (numbered from 1; --control_trials=K
  # gives 1..K). Control k > 1 has its own seeds and directory (see protocols.naming.control_runs).
  control_trials: Tuple[int, ...] = (1,)
  reinit_mode: str = 'glorot'
  mask_criterion: str = 'magnitude'  # lottery and one_shot: how survivors are ranked
  masks: Optional[str] = None  # train
  presets: Optional[str] = None  # train
  jit_compile: Optional[bool] = True  # None: decided by the device (Experiment)
  progress_seconds: float = 15.0
  checkpoint_interval: int = 0  # iterations between checkpoints; 0: every ~5 minutes of work
  pruning: str = 'layerwise'
  rewind_iteration: int = 0  # levels >= 1 (and controls) reset survivors to the dense run's θk
  precision: str = 'float32'  # PRECISIONS: the Keras mixed-precision policy
  spawn_iterations: Tuple[int, ...] = (0,)  # instability: iterations k the copies start from
  interpolation_points: int = 30  # instability: evenly spaced α in [0, 1]
  control: str = 'none'  # instability: 'random_prune' analyses random masks of equal counts
  binarize: bool = False  # kernels α·sign(w)·mask (binary-weight tickets; supermask: biprop)
  weight_init: str = catalog.WEIGHT_INITS[0]  # supermask: the frozen weights
  # prune_at_init (protocols.prune_at_init): each method x ablation x --percent_remaining
  pai_methods: Tuple[str, ...] = ()
  pai_scope: str = 'global'  # the methods' own setting; layerwise: the network's shares
  pai_ablations: Tuple[str, ...] = ('none',)
  sparsity_distribution: Optional[str] = None  # random at init: foundations.sparsity
  score_batches: int = 1  # minibatches SNIP and GraSP average over
  synflow_rounds: int = 100
  # sparse_training (protocols.sparse_training): each method x --percent_remaining, its mask
  # (from --sparsity_distribution) moved every update_interval iterations until update_end
  dst_methods: Tuple[str, ...] = ()
  update_interval: int = 100  # ΔT
  drop_fraction: float = 0.3  # α
  update_end: float = 0.75  # T_end, a fraction of --training_iterations
  # Data-parallel training of each run (foundations.distribution). Not a result setting: it
  # changes results only within float tolerance, so a distributed run may resume or extend a
  # single-device experiment and vice versa.
  distribute: str = 'none'
  distribute_devices: Tuple[str, ...] = ()  # mirrored: default every GPU, else every CPU
  cpu_devices: int = 0  # > 0: split the CPU into this many logical devices
  # --deterministic: deterministic kernels (foundations.determinism), for bit-exact reruns on a
  # GPU. Not a result setting: it changes which kernels run, not the arithmetic they do.
  deterministic: bool = False

  def seed_for(self, purpose, *more):
    """A 31-bit seed for one purpose (see SEED_PURPOSES), fixed by --seed, --trial and `more`
    (e.g. which of two copies)."""
    state = np.random.SeedSequence([self.seed, self.trial, SEED_PURPOSES.index(purpose), *more])
    return int(state.generate_state(1)[0] & 0x7FFFFFFF)

  @property
  def protocol_spec(self):
    """The catalog entry of `protocol` (catalog.NO_PROTOCOL for an unknown name)."""
    return catalog.lookup(self.protocol)

  def validate(self):
    """Raises UserInputError naming the first bad flag."""
    required = self.protocol_spec.required
    checks = [
        (self.protocol in PROTOCOL_NAMES, 'experiment', f'one of {PROTOCOL_NAMES}'),
        (self.training_iterations >= 1, 'training_iterations', 'an integer >= 1'),
        (self.batch_size >= 1, 'batch_size', 'an integer >= 1'),
        (math.isfinite(self.learning_rate) and self.learning_rate > 0, 'learning_rate',
         'a finite number > 0'),
        (self.eval_interval >= 1, 'eval_interval', 'an integer >= 1'),
        (self.trial >= 0, 'trial', 'an integer >= 0'),
        (self.seed >= 0, 'seed', 'an integer >= 0'),
        (self.levels >= 0, 'levels', 'an integer >= 0'),
        (all(0 < p <= 100 for p in self.percent_remaining), 'percent_remaining',
         'values in (0, 100]'),
        (self.percent_remaining or 'percent_remaining' not in required,
         'percent_remaining', 'at least one value in (0, 100]'),
        (all(level >= 0 for level in self.ticket_levels), 'level', 'integers >= 0'),
        (self.ticket_levels or 'ticket_levels' not in required, 'level',
         'at least one lottery level'),
        (self.control_trials and all(k >= 1 for k in self.control_trials), 'control_trials',
         'an integer >= 1'),
        (self.reinit_mode in catalog.REINIT_MODES, 'reinit_mode', f'one of {catalog.REINIT_MODES}'),
        (self.mask_criterion in mask_criteria.CRITERIA, 'mask_criterion',
         f'one of {mask_criteria.CRITERIA}'),
        (self.checkpoint_interval >= 0, 'checkpoint_interval', 'an integer >= 0'),
        (self.optimizer in OPTIMIZERS, 'optimizer', f'one of {OPTIMIZERS}'),
        (0 <= self.momentum < 1, 'momentum', 'a number in [0, 1)'),
        (self.weight_decay >= 0, 'weight_decay', 'a number >= 0'),
        (all(m >= 1 for m in self.lr_milestones) and list(self.lr_milestones) == sorted(
            self.lr_milestones), 'lr_milestones', 'increasing iterations >= 1'),
        (self.lr_gamma > 0, 'lr_gamma', 'a number > 0'),
        (self.lr_schedule in LR_SCHEDULES, 'lr_schedule', f'one of {LR_SCHEDULES}'),
        (self.weight_init in catalog.WEIGHT_INITS, 'weight_init', f'one of {catalog.WEIGHT_INITS}'),
        (not self.rewind_iteration or not self.protocol_spec.frozen_weights, 'rewind_iteration',
         f'0 with {self.protocol}: its weights are frozen'),
        (self.warmup_iterations >= 0, 'warmup_iterations', 'an integer >= 0'),
        (self.pruning in PRUNING, 'pruning', f'one of {PRUNING}'),
        (0 <= self.rewind_iteration < self.training_iterations, 'rewind_iteration',
         f'an iteration in [0, --training_iterations={self.training_iterations})'),
        (all(0 < i <= self.training_iterations for i in self.report_iterations),
         'report_iterations', f'iterations in [1, --training_iterations='
         f'{self.training_iterations}]'),
        (all(0 <= k < self.training_iterations for k in self.spawn_iterations),
         'spawn_iterations', f'iterations in [0, --training_iterations='
         f'{self.training_iterations})'),
        (self.interpolation_points >= 2, 'interpolation_points', 'an integer >= 2'),
        (self.control in catalog.CONTROLS, 'control', f'one of {catalog.CONTROLS}'),
    ]
    if self.protocol_spec.checks:
      checks += self.protocol_spec.checks(self)
    checks += self._distribute_checks()
    for ok, flag, expected in checks:
      if not ok:
        fields = dict(_FIELD_OF_FLAG, **{s.flag: s.field for s in self.protocol_spec.settings})
        value = getattr(self, fields.get(flag, flag))
        raise errors.UserInputError(
            f'--{flag}={recorded_settings.flag_text(value)}: expected {expected}')
    check_writable(self.output_dir)
    recorded_settings.check_settings(self)

  def _distribute_checks(self):
    """What --distribute cannot do, and its devices, cluster and batch split."""
    checks = [
        (self.distribute in distribution.KINDS, 'distribute', f'one of {distribution.KINDS}'),
        (self.cpu_devices >= 0, 'cpu_devices', 'an integer >= 0'),
        (not self.cpu_devices or self.distribute == 'mirrored', 'cpu_devices',
         '0 unless --distribute=mirrored'),
        (not self.distribute_devices or self.distribute == 'mirrored', 'distribute_devices',
         'none unless --distribute=mirrored'),
    ]
    if self.distribute == 'none':
      return checks
    one_device = f'false with --distribute={self.distribute} (it trains on one device only)'
    checks += [
        (not self.distribute_devices or self.batch_size % len(self.distribute_devices) == 0,
         'batch_size', f'a multiple of the {len(self.distribute_devices)} '
         '--distribute_devices'),
        (not self.cpu_devices or self.distribute_devices or
         self.batch_size % self.cpu_devices == 0, 'batch_size',
         f'a multiple of --cpu_devices={self.cpu_devices}'),
        (not self.dropout, 'dropout', one_device),
        (self.precision == 'float32', 'precision', f'float32 with --distribute={self.distribute}'),
        (self.protocol_spec.distributable, 'distribute', f'none with {self.protocol}'),
    ]
    distribution.check_devices(self.distribute_devices)
    if self.distribute == 'multi_worker':
      distribution.cluster_spec()
    return checks


_FIELD_OF_FLAG = {'level': 'ticket_levels', 'experiment': 'protocol'}


def check_writable(output_dir):
  """Raises UserInputError unless output_dir is, or can be created as, a writable directory.

  A missing directory is checked by creating (and removing) a directory in its nearest existing
  parent: permission bits alone do not tell, e.g. root may not create anything in /proc or /sys.
  """
  path = os.path.abspath(output_dir)
  if os.path.exists(path) and not os.path.isdir(path):
    raise errors.UserInputError(f'--output_dir={output_dir}: exists and is not a directory')
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  reason = None
  if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
    reason = 'does not accept new files'
  elif existing != path:
    try:
      os.rmdir(tempfile.mkdtemp(prefix='.probe-', dir=existing))
    except OSError as e:
      reason = f'does not accept new files: {e.strerror}'
  if reason:
    raise errors.UserInputError(f'--output_dir={output_dir}: not writable ({existing} {reason})')
