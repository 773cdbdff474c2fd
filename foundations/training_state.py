"""What a training run gives back and what continues it: the result, the mid-run state a
checkpoint holds, and the metric columns of every history.

A run's history may carry more columns than METRIC_COLUMNS: an evaluation tracker's (e.g.
foundations.early_bird's mask_distance), after them.
"""

import dataclasses

import pandas as pd

METRIC_COLUMNS = ('iteration', 'train_loss', 'train_accuracy', 'validation_loss',
                  'validation_accuracy', 'test_loss', 'test_accuracy')


@dataclasses.dataclass
class TrainingResult:
  initial_weights: dict  # as given (pruned positions zero)
  final_weights: dict  # kernel * mask
  history: pd.DataFrame  # METRIC_COLUMNS (+ a tracker's): the starting weights' row, then one
  # per evaluation
  wall_seconds: float
  steps_per_second: float


@dataclasses.dataclass
class TrainingState:
  """A run after `iteration` steps: enough to continue it exactly (see Trainer.train)."""
  iteration: int
  rows: list  # metric rows so far
  wall_seconds: float
  initial_weights: dict
  variables: dict  # 'model/{i}', 'optimizer/{i}' and 'random/{i}' (dropout RNG) -> array
  interval: list = dataclasses.field(default_factory=list)  # (steps, loss, accuracy) of the
  # compiled calls since the last evaluation, when saved between evaluations
  tracker: dict = dataclasses.field(default_factory=dict)  # an evaluation tracker's state
  mask_updates: dict = dataclasses.field(default_factory=dict)  # a mask updater's state
