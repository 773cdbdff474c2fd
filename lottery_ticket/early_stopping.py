"""The paper's early-stopping criterion, found after the fact from a run's metric history.

Training always runs its full budget; the early-stopping iteration is the evaluation with the
minimum validation loss (the earliest one on ties), and the accuracy reported for a run is the
test accuracy at that iteration. The row of the starting weights (no training loss: NaN; see
foundations.trainer) is not a candidate: early stopping picks among trained networks.
"""

import numpy as np


def early_stop(history):
  """(early-stopping iteration, test accuracy there) from a metrics DataFrame."""
  history = history[history['train_loss'].notna()] if 'train_loss' in history else history
  if history.empty:
    raise ValueError('empty metric history')
  best = history['validation_loss'].to_numpy().argmin()  # first minimum
  row = history.iloc[best]
  return int(row['iteration']), float(row['test_accuracy'])


def accuracy_at_start(history):
  """(validation accuracy, test accuracy) of the starting weights' row, or (None, None) if the
  history has none (runs recorded before it was added)."""
  if history.empty or 'train_loss' not in history or not np.isnan(history['train_loss'].iloc[0]):
    return None, None
  first = history.iloc[0]
  return float(first['validation_accuracy']), float(first['test_accuracy'])
