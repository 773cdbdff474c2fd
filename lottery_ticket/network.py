"""What an experiment package tells the shared machinery about one of its networks."""

import dataclasses
import importlib
from typing import Callable, Mapping, Optional


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """Training settings; the paper's values are each network's defaults."""
  learning_rate: float
  training_iterations: int
  batch_size: int = 60


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """A network, its paper hyperparameters and its per-layer prune rates.

  Attributes:
    name: the --network value.
    title: the name used in the paper, for logs and reports.
    build: (input_shape, num_classes, dropout_rate) -> a tf_keras model whose prunable layers
      are foundations.masked_layers layers; dropout_rate 0 means no dropout.
    prune_rates: {masked layer name: fraction of surviving weights removed per round}.
    hyperparameters: defaults without dropout.
    dropout_hyperparameters: defaults with --dropout (None: the network has no dropout variant).
    dropout_rate: the rate used with --dropout.
    jit_compile: whether XLA speeds this network up on CPU (the --jit_compile default). It does
      for dense networks (1.8x for LeNet); its CPU convolutions are far slower (36x for Conv-2).
  """
  name: str
  title: str
  build: Callable
  prune_rates: Mapping[str, float]
  hyperparameters: Hyperparameters
  dropout_hyperparameters: Optional[Hyperparameters] = None
  dropout_rate: float = 0.5
  jit_compile: bool = True


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
