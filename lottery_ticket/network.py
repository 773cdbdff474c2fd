"""What an experiment package tells the shared machinery about one of its networks."""

import dataclasses
import importlib
from typing import Callable, Mapping, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """Training settings; the paper's values are each network's defaults (and flags' defaults).

  Attributes:
    learning_rate: the base learning rate.
    training_iterations: optimizer steps per run.
    batch_size: examples per step.
    optimizer: 'adam' or 'sgd' (PyTorch-style momentum; foundations.optimizers).
    momentum: SGD momentum.
    weight_decay: L2 coefficient added to the gradient (PyTorch's coupled form).
    lr_milestones: iterations at which the learning rate is multiplied by lr_gamma.
    lr_gamma: the factor applied at each milestone.
    lr_schedule: 'step' (the milestones) or 'cosine' (decay to 0 at training_iterations).
    warmup_iterations: linear warmup of the learning rate from 0 over this many iterations.
    augment: random flip, 4-pixel pad and crop of every training batch.
    eval_interval: iterations between evaluations of validation and test.
    report_iterations: iterations whose test accuracy the summary reports (the paper's deep
      networks are reported at fixed iterations rather than at early stop).
  """
  learning_rate: float
  training_iterations: int
  batch_size: int = 60
  optimizer: str = 'adam'
  momentum: float = 0.0
  weight_decay: float = 0.0
  lr_milestones: Tuple[int, ...] = ()
  lr_gamma: float = 0.1
  lr_schedule: str = 'step'
  warmup_iterations: int = 0
  augment: bool = False
  eval_interval: int = 100
  report_iterations: Tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """A network, its paper hyperparameters and how it is pruned.

  Attributes:
    name: the --network value.
    title: the name used in the paper, for logs and reports.
    build: (input_shape, num_classes, dropout_rate, channel_statistics=None) -> a tf_keras model
      whose prunable layers are foundations.masked_layers layers; dropout_rate 0 means no
      dropout. Networks with normalize_inputs take channel_statistics=(mean, std) per channel
      of the [0, 1]-scaled training images.
    prune_rates: {masked layer name: fraction of surviving weights removed per round} for
      layer-wise pruning; a layer with rate 0 is never pruned.
    hyperparameters: defaults without dropout or warmup.
    dropout_hyperparameters: defaults with --dropout (None: the network has no dropout variant).
    warmup_hyperparameters: defaults with --warmup (None: no warmup variant).
    supermask_hyperparameters: defaults of the supermask experiment, edge-popup's training of
      the scores (None: the network has no supermask experiment).
    dropout_rate: the rate used with --dropout.
    jit_compile: whether XLA speeds this network up on CPU (the --jit_compile default without a
      GPU). It does for dense networks (1.8x for LeNet); its CPU convolutions are far slower.
    pruning: the --pruning default, 'layerwise' or 'global'.
    global_prune_rate: fraction of the pooled survivors removed per round by global pruning,
      which covers the layers with a nonzero entry in prune_rates.
    normalize_inputs: scale each input channel to zero mean and unit variance (training split).
  """
  name: str
  title: str
  build: Callable
  prune_rates: Mapping[str, float]
  hyperparameters: Hyperparameters
  dropout_hyperparameters: Optional[Hyperparameters] = None
  warmup_hyperparameters: Optional[Hyperparameters] = None
  supermask_hyperparameters: Optional[Hyperparameters] = None
  dropout_rate: float = 0.5
  jit_compile: bool = True
  pruning: str = 'layerwise'
  global_prune_rate: float = 0.2
  normalize_inputs: bool = False

  @property
  def globally_pruned_layers(self):
    return tuple(name for name, rate in self.prune_rates.items() if rate > 0)


def supermask_hyperparameters(train_examples, epochs=100, batch_size=128):
  """Edge-popup's (Ramanujan et al. 2020) training of the scores: SGD 0.1, momentum 0.9, weight
  decay 1e-4, cosine schedule, batch 128, 100 epochs of the default dataset's training split
  (after the validation split), evaluated once per epoch."""
  epoch_iterations = train_examples // batch_size
  return Hyperparameters(
      learning_rate=0.1, training_iterations=epochs * epoch_iterations, batch_size=batch_size,
      optimizer='sgd', momentum=0.9, weight_decay=1e-4, lr_schedule='cosine',
      eval_interval=epoch_iterations)


def lazy_build(module_name, function_name='build', *leading_args):
  """A NetworkSpec.build that imports `module_name` only when a network is built.

  A model module imports TensorFlow, which takes seconds; with lazy builds in the constants
  modules, a runner checks its flags and files first and reports a mistake at once.

  Args:
    module_name: the module defining the build function, e.g. 'mnist_fc.model'.
    function_name: its name in that module.
    *leading_args: arguments passed before (input_shape, num_classes, dropout_rate).
  """
  def build(*args, **kwargs):
    function = getattr(importlib.import_module(module_name), function_name)
    return function(*leading_args, *args, **kwargs)
  return build
