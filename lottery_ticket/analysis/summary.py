"""Per-run and per-sparsity summaries computed from the metric histories (not from summary.json).

A run's early-stopping iteration is the evaluation with minimum validation loss (the earliest on
ties, lottery_ticket.early_stopping); its accuracy is the test accuracy there. Its accuracy at
init is the test accuracy of its masked network before training (the metrics' first row; NaN
for runs recorded before that row existed). Runs of one kind
at one percent remaining (rounded to 0.1, the paper's ladder precision) are aggregated over
trials: mean, min and max, and the number of trials.
"""

import pandas as pd

from lottery_ticket import early_stopping
from lottery_ticket.analysis import load
from lottery_ticket.protocols import kinds as kinds_lib

# Display order and names of the kinds of run; unknown kinds sort last under their own name.
KIND_LABELS = {name: kind.label for name, kind in kinds_lib.KINDS.items()}
CONTROL_KINDS = kinds_lib.CONTROL_KINDS
BASELINE_KINDS = kinds_lib.BASELINE_KINDS
RUN_STATISTICS = ('early_stop_iteration', 'test_accuracy_at_early_stop', 'final_test_accuracy',
                  'test_accuracy_at_init')
PRUNED_KINDS = kinds_lib.PRUNED_KINDS  # another --mask_criterion appends '_{criterion}'
PERCENT_DECIMALS = 1


def report_column(iteration):
  """The runs_table column of test accuracy at a report iteration."""
  return f'test_accuracy_at_{int(iteration)}'


def criterion_of(kind):
  """(base kind, mask criterion) of a pruned kind ('lottery_movement' -> ('lottery',
  'movement'); 'lottery' -> ('lottery', 'magnitude')), or None for other kinds."""
  for base in PRUNED_KINDS:
    if kind == base:
      return base, 'magnitude'
    if kind.startswith(f'{base}_'):
      return base, kind[len(base) + 1:]
  return None


def kind_label(kind):
  if kind in KIND_LABELS:
    return KIND_LABELS[kind]
  if kinds_lib.is_pai(kind):
    return kinds_lib.pai_label(kind)
  if kinds_lib.is_sparse(kind):
    return kinds_lib.sparse_label(kind)
  pruned = criterion_of(kind)
  if pruned is not None:
    base, criterion = pruned
    return f'{"iterative" if base == kinds_lib.TICKET else "one-shot"} pruning, {criterion}'
  return kind


def kind_order(kinds):
  """`kinds` (unique) in display order; criteria variants follow their base kind."""
  known = list(KIND_LABELS)

  def key(kind):
    pruned = criterion_of(kind)
    base = pruned[0] if pruned else kind
    return (known.index(base) if base in known else len(known), kind != base, kind)
  return sorted(set(kinds), key=key)


def runs_table(df):
  """One row per run: its identity, early-stop iteration, test accuracy there and at the end.

  Args:
    df: a DataFrame from load.load_experiment.

  Returns:
    A DataFrame with load.RUN_COLUMNS plus early_stop_iteration, test_accuracy_at_early_stop,
    final_test_accuracy, test_accuracy_at_init, training_iterations (the last evaluated iteration) and, for each of
    df.attrs['report_iterations'], test_accuracy_at_{iteration} (NaN if not evaluated there).
  """
  rows = []
  for _, history in df.groupby('run', sort=False):
    history = history.sort_values('iteration', kind='stable')
    iteration, accuracy = early_stopping.early_stop(history)
    _, accuracy_at_init = early_stopping.accuracy_at_start(history)
    last = history.iloc[-1]
    at = dict(zip(history['iteration'], history['test_accuracy']))
    rows.append(dict(last[list(load.RUN_COLUMNS)], early_stop_iteration=iteration,
                     test_accuracy_at_early_stop=accuracy,
                     final_test_accuracy=float(last['test_accuracy']),
                     test_accuracy_at_init=(float('nan') if accuracy_at_init is None
                                            else accuracy_at_init),
                     training_iterations=int(last['iteration']),
                     **{report_column(i): at.get(i, float('nan'))
                        for i in df.attrs.get('report_iterations', ())}))
  runs = pd.DataFrame(rows)
  runs['level'] = runs['level'].astype('Int64')
  runs.attrs = dict(df.attrs)
  return runs


def summarize(df):
  """Per (kind, percent remaining): trials, and mean/min/max of each of RUN_STATISTICS.

  Args:
    df: a DataFrame from load.load_experiment, or a runs_table of one.

  Returns:
    A DataFrame with columns kind, percent_remaining (rounded to PERCENT_DECIMALS), level (the
    lowest level, NA for one-shot runs), trials, runs (more than trials where a ticket has
    several controls, --control_trials: they are further samples of the kind, aggregated over
    with the trials), and {statistic}_{mean,min,max} for
    RUN_STATISTICS and the report iterations' accuracies; sorted by kind
    in display order, then by percent remaining, decreasing.
  """
  runs = runs_table(df) if 'iteration' in df.columns else df
  runs = runs.assign(percent_remaining=runs['percent_remaining'].round(PERCENT_DECIMALS))
  grouped = runs.groupby(['kind', 'percent_remaining'], sort=False)
  statistics = RUN_STATISTICS + tuple(
      report_column(i) for i in df.attrs.get('report_iterations', ()))
  table = grouped.agg(level=('level', 'min'), trials=('trial', 'nunique'),
                      runs=('run', 'count'),
                      **{f'{stat}_{how}': (stat, how) for stat in statistics
                         for how in ('mean', 'min', 'max')}).reset_index()
  order = {kind: i for i, kind in enumerate(kind_order(table['kind']))}
  table = table.assign(_order=table['kind'].map(order))
  table = table.sort_values(['_order', 'percent_remaining'], ascending=[True, False])
  table = table.drop(columns='_order').reset_index(drop=True)
  table.attrs = dict(df.attrs)
  return table


def curves(df, kind, percent_remaining):
  """Test accuracy per iteration over the trials of one (kind, percent): mean, min, max, trials."""
  rounded = df['percent_remaining'].round(PERCENT_DECIMALS)
  selected = df[(df['kind'] == kind) & (rounded == round(percent_remaining, PERCENT_DECIMALS))]
  grouped = selected.groupby('iteration')
  return grouped['test_accuracy'].agg(['mean', 'min', 'max']).assign(
      trials=grouped['trial'].nunique()).reset_index()


def nearest_percents(available, targets):
  """For each target, the nearest available percent (by ratio), without repeats, decreasing."""
  available = sorted(set(available))
  chosen = {min(available, key=lambda p, t=t: abs(p / t - 1) + abs(t / p - 1)) for t in targets}
  return sorted(chosen, reverse=True)
