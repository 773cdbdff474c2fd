"""The text of report.md: verdicts against the dense network, controls, what was skipped, figures.

Every number is a mean over the trials that have the run; runs.csv and summary.csv (written
next to the report) hold the per-run values and the min/max over trials.
"""

from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.analysis import verdicts

FIGURES = (
    ('figure1.png', 'Figure 1: early-stop iteration and test accuracy at early stop vs percent '
                    'remaining; winning tickets solid, random controls dashed, tfmot dotted'),
    ('figure3.png', 'Figure 3: test accuracy during training at selected percents remaining'),
    ('figure4.png', 'Figure 4: iterative vs one-shot pruning vs random reinitialisation'),
)
ITERATIONS_FIGURE = ('figure_iterations.png',
                     'Test accuracy at the report iterations vs percent remaining (the paper\'s '
                     'Figures 7 and 8); winning tickets solid, random controls dashed')


def accuracy_cell(row):
  """'mean% (min–max)' of a summary row's test accuracy at early stop (no range for 1 trial)."""
  spread = (f' ({100 * row.test_accuracy_at_early_stop_min:.2f}–'
            f'{100 * row.test_accuracy_at_early_stop_max:.2f})' if row.trials > 1 else '')
  return f'{100 * row.test_accuracy_at_early_stop_mean:.2f}%{spread}'


def _plural(count, noun):
  return f'{count} {noun}{"" if count == 1 else "s"}'


def _timing(change_percent, iteration, dense_iteration):
  if abs(change_percent) < 0.05:
    when = 'early stop at the same iteration'
  else:
    when = f'early stop {abs(change_percent):.1f}% {"earlier" if change_percent < 0 else "later"}'
  return f'{when} ({iteration:,.0f} vs {dense_iteration:,.0f} iterations)'


def verdict_line(row, dense, show_trials=False):
  """One bullet: whether the ticket at row.percent_remaining matches and when it stops."""
  verdict = 'matches' if row['matches'] else 'does not match'
  dense_accuracy = dense['test_accuracy_at_early_stop_mean'] * 100
  trials = f' ({_plural(int(row["trials"]), "trial")})' if show_trials else ''
  return (f'- {row["percent_remaining"]:g}% remaining{trials}: {verdict} the dense network '
          f'({row["accuracy_percent"]:.2f}% vs {dense_accuracy:.2f}%, '
          f'{row["accuracy_difference_points"]:+.2f} points); '
          + _timing(row['early_stop_change_percent'], row['early_stop_iteration'],
                    dense['early_stop_iteration_mean']) + '.')


def dense_section(table, tolerance_points):
  """Lines of the 'Winning tickets vs the dense network' section."""
  lines = ['## Winning tickets vs the dense network', '']
  dense = verdicts.dense_reference(table)
  if dense is None:
    return lines + ['No dense run (lottery level 0, 100% remaining): no verdicts.', '']
  lines.append(f'Dense network (100% remaining, {_plural(int(dense["trials"]), "trial")}): '
               f'early stop at {dense["early_stop_iteration_mean"]:,.0f} iterations, test '
               f'accuracy there {dense["test_accuracy_at_early_stop_mean"] * 100:.2f}%. '
               f'A pruned winning ticket matches it if its test accuracy at early stop is at '
               f'most {tolerance_points:g} percentage points lower (`--tolerance`).')
  lines.append('')
  comparison = verdicts.dense_comparison(table, tolerance_points)
  show_trials = set(comparison['trials']) - {dense['trials']} != set()  # unequal trial counts
  lines += [verdict_line(row, dense, show_trials) for _, row in comparison.iterrows()]
  if comparison.empty:
    lines.append('No pruned winning tickets yet.')
  lines.append('')
  smallest = verdicts.smallest_winning_ticket(comparison)
  if smallest is None:
    lines.append(f'Smallest winning ticket: none; no pruned network is within '
                 f'{tolerance_points:g} points of the dense network.')
  else:
    lines.append(f'Smallest winning ticket: {smallest["percent_remaining"]:g}% remaining '
                 f'(level {int(smallest["level"])}, {smallest["accuracy_percent"]:.2f}% at '
                 f'early stop, {smallest["accuracy_difference_points"]:+.2f} points vs dense).')
  return lines + ['']


def _control_runs(row):
  """' (6 runs)' where --control_trials gave a ticket several controls, else ''."""
  runs = int(row.control_runs)
  return f' ({runs} runs)' if runs > int(row.control_trials) else ''


def controls_section(table):
  """Lines of the 'Winning tickets vs controls' section (a table)."""
  lines = ['## Winning tickets vs controls at equal sparsity', '']
  comparison = verdicts.control_comparison(table)
  if comparison.empty:
    lines.append('No control or one-shot runs at a sparsity that has a winning ticket.')
  else:
    lines += ['Ticket minus control: positive accuracy = the ticket is more accurate; '
              'negative iterations = the ticket stops earlier.', '',
              '| control | % remaining | trials (ticket/control) | test acc. at early stop '
              '(points) | early-stop iteration | final test acc. (points) |',
              '|---|---|---|---|---|---|']
    for row in comparison.itertuples():
      lines.append(f'| {summary_lib.kind_label(row.kind)} | {row.percent_remaining:g} | '
                   f'{row.ticket_trials}/{row.control_trials}'
                   f'{_control_runs(row)} | '
                   f'{row.accuracy_difference_points:+.2f} | '
                   f'{row.early_stop_difference_iterations:+,.0f} | '
                   f'{row.final_accuracy_difference_points:+.2f} |')
  for kind, percent in verdicts.unmatched_controls(table):
    lines.append(f'- {summary_lib.kind_label(kind)} at {percent:g}%: no winning ticket at '
                 'this sparsity to compare with.')
  return lines + ['']


def report_iterations_section(table, iterations):
  """Lines of the 'Accuracy at the report iterations' section (deep networks: a table)."""
  lines = ['## Test accuracy at the report iterations', '',
           'The paper reports ResNet-20 and VGG-19 at fixed iterations rather than at early stop.',
           '', '| run | % remaining | trials | ' + ' | '.join(
               f'iteration {i:,}' for i in iterations) + ' |',
           '|---|---|---|' + '---|' * len(iterations)]
  for row in table.itertuples():
    values = [getattr(row, f'{summary_lib.report_column(i)}_mean') for i in iterations]
    cells = ' | '.join('—' if value != value else f'{100 * value:.2f}%' for value in values)
    lines.append(f'| {summary_lib.kind_label(row.kind)} | {row.percent_remaining:g} | '
                 f'{row.trials} | {cells} |')
  return lines + ['']


def skipped_section(skipped, missing):
  """Lines of the 'Skipped and missing' section: runs in progress, unreadable, absent."""
  lines = ['## Skipped and missing runs', '']
  if not skipped and not missing:
    return lines + ['Nothing skipped: every trial has every run found in any trial.', '']
  lines += [f'- `{path}`: {reason}' for path, reason in skipped]
  lines += [f'- {name}: {reason}' for name, reason in missing]
  return lines + ['']


def report_text(title, experiment_dir, runs, table, missing, tolerance_points,
                extra_sections=(), extra_figures=()):
  """The whole report.md text.

  Args:
    title: the experiment's name ('LeNet-300-100 on Fashion-MNIST').
    experiment_dir: the directory the runs were read from.
    runs: a summary.runs_table.
    table: a summary.summarize table.
    missing: coverage.missing_runs(runs).
    tolerance_points: the matching tolerance in percentage points.
    extra_sections: more lines to put before the skipped runs (e.g. instability verdicts).
    extra_figures: more (file name, caption) figures.

  Returns:
    The Markdown text.
  """
  trials = sorted(set(runs['trial']))
  lines = [f'# Lottery ticket report: {title}', '',
           f'Read from `{experiment_dir}`: {_plural(len(runs), "complete run")} in '
           f'{"trial" if len(trials) == 1 else "trials"} {", ".join(map(str, trials))}. '
           'Numbers are means '
           'over trials; `runs.csv` has each run and `summary.csv` the min and max over trials. '
           'Early stop = the evaluation with the lowest validation loss.', '']
  lines += dense_section(table, tolerance_points)
  iterations = runs.attrs.get('report_iterations', [])
  if iterations:
    lines += report_iterations_section(table, iterations)
  lines += controls_section(table)
  lines += list(extra_sections)
  lines += skipped_section(runs.attrs.get('skipped', []), missing)
  lines += ['## Figures', '']
  for name, caption in FIGURES + ((ITERATIONS_FIGURE,) if iterations else ()) + tuple(
      extra_figures):
    lines += [f'![{caption}]({name})', '']
  return '\n'.join(lines)
