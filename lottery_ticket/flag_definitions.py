"""The absl flags of the runners: the shared ones, and each protocol's own from its catalog entry.

lottery_ticket.runner turns them into --help's groups and a config. Nothing here imports
TensorFlow.
"""

import functools

from absl import flags

from foundations import distribution
from lottery_ticket import config as config_lib
from lottery_ticket import datasets
from lottery_ticket.protocols import catalog

# The module --helpfull lists these flags under, as it always has (they were defined there).
LISTED_UNDER = 'lottery_ticket.runner'


class _Definer:
  """absl's DEFINE_ functions, each flag registered as LISTED_UNDER's."""

  def __getattr__(self, name):
    return functools.partial(getattr(flags, name), module_name=LISTED_UNDER)


_absl = _Definer()

def define_shared(networks, default_dataset):
  """The flags of every runner: data, output, the training settings."""
  _absl.DEFINE_enum('network', next(iter(networks)), list(networks), 'Network to train.')
  _absl.DEFINE_string('dataset', default_dataset,
                      f'Dataset: one of {sorted(datasets.DATASETS)}; {datasets.BUNDLED} '
                      'ships with the package (works offline).')
  _absl.DEFINE_string('dataset_path', None,
                      'Directory with the dataset files (MNIST-format IDX or CIFAR-10 python '
                      'batches); default: usual local places, then tensorflow-datasets.')
  _absl.DEFINE_string('output_dir', None, 'Directory for all outputs (required).')
  _absl.DEFINE_integer('training_iterations', None,
                       'Optimizer steps per run (default: the paper\'s value for --network).')
  _absl.DEFINE_integer('batch_size', None, 'Minibatch size (default: the paper\'s).')
  _absl.DEFINE_float('learning_rate', None,
                     'Base learning rate (default: the paper\'s for --network).')
  _absl.DEFINE_enum('optimizer', None, list(config_lib.OPTIMIZERS),
                    'adam, or sgd with PyTorch-style momentum (default: the paper\'s).')
  _absl.DEFINE_float('momentum', None, 'SGD momentum (default: the paper\'s; 0.9 for deep nets).')
  _absl.DEFINE_float('weight_decay', None,
                     'L2 coefficient added to the gradient, as PyTorch\'s weight_decay.')
  _absl.DEFINE_list('lr_milestones', None,
                    'Iterations at which the learning rate is multiplied by --lr_gamma.')
  _absl.DEFINE_float('lr_gamma', None, 'Learning-rate factor at each milestone (default 0.1).')
  _absl.DEFINE_enum('lr_schedule', None, list(config_lib.LR_SCHEDULES),
                    'step: the milestones; cosine: decay to 0 at --training_iterations '
                    '(default: the paper\'s; cosine for supermask).')
  _absl.DEFINE_integer('warmup_iterations', None,
                       'Linear learning-rate warmup from 0 over this many iterations.')
  _absl.DEFINE_boolean('warmup', False,
                       'Use the network\'s warmup variant (the paper\'s lr and warmup length).')
  _absl.DEFINE_boolean('augment', None,
                       'Random flip, 4-pixel zero pad and random crop of training batches.')
  _absl.DEFINE_enum('pruning', None, list(config_lib.PRUNING),
                    'layerwise: each layer by its own rate; global: the network\'s prunable '
                    'layers pooled (default: the paper\'s for --network).')
  _absl.DEFINE_integer('rewind_iteration', 0,
                       'Reset pruned networks to the dense run\'s weights at this iteration '
                       '(0: to the original initialisation θ0).')
  _absl.DEFINE_list('report_iterations', None,
                    'Iterations whose test accuracy the summary reports (default: the paper\'s).')
  _absl.DEFINE_enum('precision', 'float32', list(config_lib.PRECISIONS),
                    'What the layers compute in; weights, masks and checkpoints stay float32. '
                    'float32: the paper\'s; mixed_bfloat16: bfloat16 (fast on CPUs with '
                    'AVX-512 BF16 or AMX, and on recent GPUs); mixed_float16: float16 with loss '
                    'scaling (for GPUs; slow on CPUs).')
  _absl.DEFINE_boolean('mixed_precision', False, 'Alias of --precision=mixed_float16.')
  _absl.DEFINE_boolean('dropout', False, 'Use the network\'s dropout variant, if it has one.')
  _absl.DEFINE_integer('eval_interval', None,
                       'Evaluate validation and test every this many iterations (default: 100, '
                       'or what keeps evaluation under 10% of the time for deep networks).')
  _absl.DEFINE_integer('validation_size', None,
                       'Training examples held out for validation (default: 5000; '
                       f'{datasets.sample.VALIDATION_SIZE} for {datasets.BUNDLED}).')
  _absl.DEFINE_integer('trial', 1, 'Trial number: selects the seeds and the trial directory.')
  _absl.DEFINE_string('trials', None,
                      'Trials to run one after another in this process, e.g. 1-5 or 1,3,4 '
                      '(default: --trial); the compiled trainer is reused.')
  _absl.DEFINE_integer('seed', 0, 'Base seed, combined with --trial for every random choice.')
  _absl.DEFINE_boolean('jit_compile', None,
                       'Compile with XLA (default: yes on a GPU and for dense networks on CPU).')
  _absl.DEFINE_boolean('deterministic', False,
                       'Deterministic kernels (TensorFlow op determinism, XLA\'s GPU flag): '
                       'reruns on a GPU bit for bit; a network with an op that has none is '
                       'refused before anything is written. CPU runs are bit-exact without it.')
  _absl.DEFINE_float('progress_seconds', 15.0, 'Seconds between progress lines.')
  _absl.DEFINE_integer('checkpoint_interval', 0,
                       'Iterations between mid-run checkpoints (0: about every 5 minutes).')
  _absl.DEFINE_enum('distribute', 'none', list(distribution.KINDS),
                    'Data-parallel training of each run through tf.distribute: mirrored (the '
                    'local devices) or multi_worker (the cluster in TF_CONFIG); the global '
                    'batch is split across replicas. Results equal --distribute=none up to '
                    'float summation order.')
  _absl.DEFINE_list('distribute_devices', [],
                    '--distribute=mirrored: devices, e.g. /gpu:0,/gpu:1 (default: every GPU, '
                    'or every logical CPU if there is none).')
  _absl.DEFINE_integer('cpu_devices', 0,
                       '--distribute=mirrored: split the CPU into this many logical devices '
                       '(testing, or CPU-only machines); 0: leave it whole.')


def define_protocol(experiment):
  """The flags only some protocols have: the catalog entry's own."""
  for flag in catalog.get(experiment).flags:
    choices = [list(flag.choices)] if flag.kind == 'enum' else []
    getattr(_absl, f'DEFINE_{flag.kind}')(flag.name, flag.default, *choices, flag.help)
