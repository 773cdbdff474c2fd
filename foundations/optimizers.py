"""Optimizers and learning-rate schedules as the LTH papers use them.

A `Schedule` is a pure function of the global iteration (linear warmup from 0, then a step or
a cosine schedule), so a run started or resumed at iteration k follows the same schedule as one
trained from 0. `TorchSGD` is SGD with momentum in PyTorch's form (v = μv + g; w -= lr·v), which the
papers' code uses; Keras' form (v = μv - lr·g) differs right after every learning-rate step.
Weight decay is L2 added to the gradient (PyTorch's coupled form), applied by the training step
(foundations.train_step).
"""

import dataclasses
import math
from typing import Tuple

import tensorflow as tf
import tf_keras as keras

from foundations import errors

OPTIMIZERS = ('adam', 'sgd')
LR_SCHEDULES = ('step', 'cosine')


@dataclasses.dataclass(frozen=True)
class Schedule:
  """Linear warmup from 0 over `warmup_iterations`, then ×`gamma` at each milestone ('step'), or
  a cosine decay to 0 at `total_iterations` ('cosine', edge-popup's schedule).

  The learning rate of the step taken at iteration i (0-based: i steps done before it) is
  base · min(1, i / warmup_iterations) · gamma^(number of milestones <= i), as in open_lth;
  with kind='cosine', after the warmup w it is base · 0.5 · (1 + cos(π (i - w) / (T - w))),
  T = total_iterations.
  """
  base: float
  milestones: Tuple[int, ...] = ()
  gamma: float = 0.1
  warmup_iterations: int = 0
  kind: str = 'step'
  total_iterations: int = 0  # T of the cosine schedule

  @property
  def is_constant(self):
    return not self.milestones and not self.warmup_iterations and self.kind == 'step'

  def __call__(self, iteration):
    """The learning rate at `iteration` (an int or an integer tensor), as a float32 tensor."""
    iteration = tf.cast(iteration, tf.float32)
    rate = tf.constant(self.base, tf.float32)
    if self.warmup_iterations:
      rate *= tf.minimum(1.0, iteration / float(self.warmup_iterations))
    if self.kind == 'cosine':
      warmup = float(self.warmup_iterations)
      span = max(float(self.total_iterations) - warmup, 1.0)
      progress = tf.clip_by_value((iteration - warmup) / span, 0.0, 1.0)
      rate *= 0.5 * (1.0 + tf.cos(math.pi * progress))
    for milestone in self.milestones:
      rate *= tf.where(iteration >= float(milestone), float(self.gamma), 1.0)
    return rate


class TorchSGD(keras.optimizers.SGD):
  """SGD with momentum as torch.optim.SGD computes it: v = μ·v + g, w = w - lr·v."""

  def update_step(self, gradient, variable):
    if self.momentum == 0:
      return super().update_step(gradient, variable)
    lr = tf.cast(self.learning_rate, variable.dtype)
    velocity = self.momentums[self._index_dict[self._var_key(variable)]]
    velocity.assign(velocity * tf.cast(self.momentum, variable.dtype) + gradient)
    variable.assign_sub(lr * velocity)
    return None


def create(name, learning_rate, momentum=0.0):
  """A fresh tf_keras optimizer: 'adam' (Keras defaults otherwise) or 'sgd' (PyTorch momentum)."""
  if name == 'adam':
    return keras.optimizers.Adam(learning_rate)
  if name == 'sgd':
    return TorchSGD(learning_rate, momentum=momentum)
  raise errors.UserInputError(f'--optimizer={name}: expected one of {OPTIMIZERS}')


def slot_variables(optimizer, variable):
  """The optimizer's state variables of `variable` (Adam's moments, SGD's momentum), named
  '{slot}/{variable name}' by tf_keras; none before the optimizer is built or without momentum."""
  inner = getattr(optimizer, 'inner_optimizer', optimizer)  # a LossScaleOptimizer's
  return [slot for slot in inner.variables
          if slot.name.partition('/')[2] == variable.name and slot.shape == variable.shape]


def owned_variables(optimizer):
  """Every variable `optimizer` owns: step, learning rate, slots, and a LossScaleOptimizer's
  loss scale and its counter of good steps (which `optimizer.variables` leaves out)."""
  return [v for v in tf.train.TrackableView(optimizer).descendants() if isinstance(v, tf.Variable)]


def state_variables(optimizer):
  """The variables a run changes and a checkpoint keeps: `optimizer.variables` (step, slots), in
  their order, then a LossScaleOptimizer's loss scale and good-step count (tf_keras keeps them in
  its `_loss_scale`, outside `variables`). Other optimizers get exactly `optimizer.variables`:
  their checkpoints keep the keys they always had."""
  listed = list(optimizer.variables)
  loss_scale = getattr(optimizer, '_loss_scale', None)  # a LossScaleOptimizer's only
  if loss_scale is None:
    return listed
  return listed + [v for v in owned_variables(loss_scale) if not any(v is u for u in listed)]
