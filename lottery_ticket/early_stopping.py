"""The paper's early-stopping criterion, found after the fact from a run's metric history.

Training always runs its full budget; the early-stopping iteration is the evaluation with the
minimum validation loss (the earliest one on ties), and the accuracy reported for a run is the
test accuracy at that iteration.
"""


def early_stop(history):
  """(early-stopping iteration, test accuracy there) from a metrics DataFrame."""
  if history.empty:
    raise ValueError('empty metric history')
  best = history['validation_loss'].to_numpy().argmin()  # first minimum
  row = history.iloc[best]
  return int(row['iteration']), float(row['test_accuracy'])
