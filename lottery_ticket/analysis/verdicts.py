"""The paper's questions asked of a summary table: do winning tickets match the dense network,
how much earlier do they stop, which is the smallest, and how do they compare with controls.

A ticket *matches* the dense network if its mean test accuracy at early stop is at most
`tolerance_points` percentage points below the dense network's (or above it). Comparisons are
between means over trials, at equal percent remaining (rounded as in summary.summarize).
"""

import pandas as pd

from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.protocols import kinds as kinds_lib

DEFAULT_TOLERANCE_POINTS = 0.2
COMPARED_KINDS = (kinds_lib.ONE_SHOT,) + summary_lib.CONTROL_KINDS + summary_lib.BASELINE_KINDS
# Accuracies are float32 fractions (resolution ~6e-8, i.e. ~6e-6 points near 90%): a difference
# of exactly the tolerance (e.g. 4 of 2,000 test images = 0.2 points) must match.
_EPSILON_POINTS = 1e-4


def dense_reference(table):
  """The dense winning-ticket row (lottery at 100% remaining), or None if there is none."""
  dense = table[(table['kind'] == kinds_lib.TICKET) & (table['percent_remaining'] == 100.0)]
  return None if dense.empty else dense.iloc[0]


def dense_comparison(table, tolerance_points=DEFAULT_TOLERANCE_POINTS):
  """Each pruned winning ticket against the dense network.

  Args:
    table: a summary.summarize table.
    tolerance_points: how many percentage points below the dense accuracy still match.

  Returns:
    A DataFrame (percent_remaining decreasing) with percent_remaining, level, trials,
    early_stop_iteration, accuracy_percent (at early stop), accuracy_difference_points,
    early_stop_change_percent (negative = earlier than dense) and matches; empty if the table
    has no dense run.
  """
  dense = dense_reference(table)
  tickets = table[(table['kind'] == kinds_lib.TICKET) & (table['percent_remaining'] < 100.0)]
  if dense is None or tickets.empty:
    return pd.DataFrame(columns=['percent_remaining', 'level', 'trials', 'early_stop_iteration',
                                 'accuracy_percent', 'accuracy_difference_points',
                                 'early_stop_change_percent', 'matches'])
  accuracy = tickets['test_accuracy_at_early_stop_mean'] * 100
  difference = accuracy - dense['test_accuracy_at_early_stop_mean'] * 100
  dense_iteration = dense['early_stop_iteration_mean']
  iteration = tickets['early_stop_iteration_mean']
  return pd.DataFrame({
      'percent_remaining': tickets['percent_remaining'], 'level': tickets['level'],
      'trials': tickets['trials'], 'early_stop_iteration': iteration,
      'accuracy_percent': accuracy, 'accuracy_difference_points': difference,
      'early_stop_change_percent': early_stop_change_percent(iteration, dense_iteration),
      'matches': matches(difference, tolerance_points),
  }).sort_values('percent_remaining', ascending=False).reset_index(drop=True)


def early_stop_change_percent(iteration, dense_iteration):
  """How much later (positive) or earlier (negative) than the dense network a run stops, in %."""
  return (iteration - dense_iteration) / dense_iteration * 100


def matches(difference_points, tolerance_points=DEFAULT_TOLERANCE_POINTS):
  """Whether a ticket `difference_points` from the dense accuracy (negative: below) matches."""
  return difference_points >= -tolerance_points - _EPSILON_POINTS


def smallest_winning_ticket(comparison):
  """The row of the smallest percent remaining that matches the dense network, or None."""
  matching = comparison[comparison['matches']]
  return None if matching.empty else matching.loc[matching['percent_remaining'].idxmin()]


def control_comparison(table):
  """Winning tickets minus each control (and one-shot and tfmot pruning) at equal percent
  remaining.

  Args:
    table: a summary.summarize table.

  Returns:
    A DataFrame with kind, percent_remaining, ticket_trials, control_trials,
    accuracy_difference_points (ticket minus control, test accuracy at early stop),
    early_stop_difference_iterations (ticket minus control) and
    final_accuracy_difference_points; one row per control row that has a ticket of its sparsity.
  """
  tickets = table[table['kind'] == kinds_lib.TICKET].set_index('percent_remaining')
  rows = []
  for _, control in table[table['kind'].isin(COMPARED_KINDS)].iterrows():
    if control['percent_remaining'] not in tickets.index:
      continue
    ticket = tickets.loc[control['percent_remaining']]
    rows.append(dict(
        kind=control['kind'], percent_remaining=control['percent_remaining'],
        ticket_trials=ticket['trials'], control_trials=control['trials'],
        control_runs=control.get('runs', control['trials']),
        accuracy_difference_points=100 * (ticket['test_accuracy_at_early_stop_mean']
                                          - control['test_accuracy_at_early_stop_mean']),
        early_stop_difference_iterations=(ticket['early_stop_iteration_mean']
                                          - control['early_stop_iteration_mean']),
        final_accuracy_difference_points=100 * (ticket['final_test_accuracy_mean']
                                                - control['final_test_accuracy_mean'])))
  return pd.DataFrame(rows, columns=[
      'kind', 'percent_remaining', 'ticket_trials', 'control_trials', 'control_runs',
      'accuracy_difference_points', 'early_stop_difference_iterations',
      'final_accuracy_difference_points'])


def unmatched_controls(table):
  """(kind, percent) of control rows with no winning ticket at their sparsity."""
  tickets = set(table.loc[table['kind'] == kinds_lib.TICKET, 'percent_remaining'])
  controls = table[table['kind'].isin(COMPARED_KINDS)]
  return [(row.kind, row.percent_remaining) for row in controls.itertuples()
          if row.percent_remaining not in tickets]
