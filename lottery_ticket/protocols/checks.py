"""The values protocols' flags take and the checks their settings must pass (catalog entries'
`checks`: config -> rows (ok, flag, expected), added to config.validate's). No TensorFlow.
"""

from foundations import sparsity

DST_METHODS = ('rigl', 'set', 'static')  # foundations.mask_updates.METHODS, without TensorFlow

CONTROLS = ('none', 'random_prune')  # instability: analyse the masks themselves or a random mask
REINIT_MODES = ('glorot', 'sample_original', 'sample_original_signs', 'signed_constant',
                'reshuffle')
# supermask: the frozen weights (protocols.supermask); the first is the default.
WEIGHT_INITS = ('signed_kaiming_constant', 'kaiming_normal', 'glorot')
# prune_at_init (protocols.prune_at_init, DESIGN.md §13)
PAI_METHODS = ('snip', 'grasp', 'synflow', 'magnitude', 'random')
PAI_ABLATIONS = ('none', 'shuffle', 'reinit', 'invert')  # Frankle et al. 2021's sanity checks
PAI_SCOPES = ('global', 'layerwise')


def tfmot_checks(config):
  """What tfmot_pruning's model.fit cannot do: (ok, flag, expected) like validate's checks."""
  unsupported = 'the default: tfmot_pruning trains with a constant learning rate'
  return [
      (config.training_iterations >= 2, 'training_iterations', 'an integer >= 2'),
      (config.training_iterations % config.eval_interval == 0, 'eval_interval',
       f'a divisor of --training_iterations={config.training_iterations}'),
      (config.pruning == 'layerwise', 'pruning', 'layerwise: tfmot prunes each layer to a '
       'ticket\'s sparsity there'),
      (not config.lr_milestones, 'lr_milestones', unsupported),
      (not config.warmup_iterations, 'warmup_iterations', unsupported),
      (not config.weight_decay, 'weight_decay', 'the default 0 with tfmot_pruning'),
      (config.lr_schedule == 'step', 'lr_schedule', unsupported),
      (not config.augment, 'augment', 'false with tfmot_pruning'),
      (not config.rewind_iteration, 'rewind_iteration', '0: tfmot_pruning trains from θ0'),
      (config.precision == 'float32', 'precision', 'float32 with tfmot_pruning'),
  ]


def pai_checks(config):
  """prune_at_init's flags: (ok, flag, expected) like validate's checks."""
  random = 'random' in config.pai_methods
  return [
      (config.pai_methods, 'method', f'at least one of {PAI_METHODS}'),
      (all(m in PAI_METHODS for m in config.pai_methods), 'method',
       f'comma-separated values of {PAI_METHODS}'),
      (all(a in PAI_ABLATIONS for a in config.pai_ablations), 'ablation',
       f'comma-separated values of {PAI_ABLATIONS}'),
      (config.pai_ablations, 'ablation', f'at least one of {PAI_ABLATIONS}'),
      (not random or config.pai_ablations == ('none',), 'ablation',
       'none with --method=random (a random mask has no scores to shuffle, invert or '
       'reinitialise: run random separately)'),
      (config.pai_scope in PAI_SCOPES, 'scope', f'one of {PAI_SCOPES}'),
      (random or config.sparsity_distribution is None, 'sparsity_distribution',
       'unset unless --method includes random (the other methods choose their own)'),
      (config.sparsity_distribution in (None,) + sparsity.DISTRIBUTIONS,
       'sparsity_distribution', f'one of {sparsity.DISTRIBUTIONS}'),
      (config.score_batches >= 1, 'score_batches', 'an integer >= 1'),
      (config.synflow_rounds >= 1, 'synflow_rounds', 'an integer >= 1'),
  ]


def lottery_checks(config):
  """--early_bird_epsilon's: (ok, flag, expected) like validate's checks."""
  epsilon = config.early_bird_epsilon
  if epsilon is None:
    return []
  return [(0 < epsilon < 1, 'early_bird_epsilon', 'a number in (0, 1)'),
          (config.levels >= 1, 'levels', 'an integer >= 1 with --early_bird_epsilon'),
          (config.mask_criterion == 'magnitude', 'mask_criterion',
           'magnitude with --early_bird_epsilon')]


def sparse_training_checks(config):
  """sparse_training's flags: (ok, flag, expected) like validate's checks."""
  return [
      (config.dst_methods and all(m in DST_METHODS for m in config.dst_methods), 'method',
       f'comma-separated values of {DST_METHODS}'),
      (config.sparsity_distribution in sparsity.DISTRIBUTIONS, 'sparsity_distribution',
       f'one of {sparsity.DISTRIBUTIONS}'),
      (config.update_interval >= 1, 'update_interval', 'an integer >= 1 (iterations)'),
      (0 < config.drop_fraction < 1, 'drop_fraction', 'a fraction in (0, 1)'),
      (0 < config.update_end <= 1, 'update_end',
       'a fraction of --training_iterations in (0, 1]'),
      (not config.rewind_iteration, 'rewind_iteration', '0: sparse training starts from θ0'),
      (not config.binarize, 'binarize', 'false with sparse_training'),
  ]
