"""Instability analyses of an experiment directory: tables, verdicts and the LMC paper's figures.

Reads {experiment_dir}/trial{N}/instability/{masks}/spawn{k}/summary.json and interpolation.csv
(lottery_ticket.instability writes them). Instability is in percentage points of error; a
(sub)network is stable below the threshold in its summary (2 points). Figures: error along the
linear path between the two copies for each mask (the paper's Figure 1 style), and instability
vs the spawn iteration k per percent remaining, random-pruned masks dashed (its Figures 3-5).
"""

import json
import os

import numpy as np
import pandas as pd

from foundations import paths
from lottery_ticket.analysis import figures
from lottery_ticket.analysis import load
from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.protocols import kinds as kinds_lib

INTERPOLATION = 'interpolation.csv'
RUN_COLUMNS = ('trial', 'masks', 'control', 'spawn_iteration', 'percent_remaining',
               'instability_test_points', 'instability_train_points', 'stable_test',
               'endpoint_test_accuracy', 'threshold_points')


def load_instability(experiment_dir):
  """(runs, curves): a row per complete (trial, masks, k), and a row per (run, alpha).

  Incomplete analyses (no summary.json yet) are left out. Both are empty when there are none.
  """
  runs, curves = [], []
  for trial, trial_dir in sorted(load.trial_dirs(experiment_dir).items()):
    root = os.path.join(trial_dir, 'instability')
    if not os.path.isdir(root):
      continue
    for masks in sorted(os.listdir(root)):
      for spawn in sorted(os.listdir(os.path.join(root, masks))):
        directory = os.path.join(root, masks, spawn)
        try:
          with open(os.path.join(directory, paths.SUMMARY)) as f:
            summary = json.load(f)
          curve = pd.read_csv(os.path.join(directory, INTERPOLATION))
        except (OSError, ValueError):
          continue
        row = dict(trial=trial, masks=masks, control=summary.get('control', 'none'),
                   spawn_iteration=int(summary['spawn_iteration']),
                   percent_remaining=round(float(summary['percent_remaining']),
                                           summary_lib.PERCENT_DECIMALS),
                   instability_test_points=float(summary['instability_test_points']),
                   instability_train_points=float(summary['instability_train_points']),
                   stable_test=bool(summary['stable_test']),
                   endpoint_test_accuracy=float(np.mean(summary['endpoint_test_accuracy'])),
                   threshold_points=float(summary.get('stable_threshold_points', 2.0)))
        runs.append(row)
        curves.append(curve.assign(**{k: row[k] for k in ('trial', 'masks', 'control',
                                                          'spawn_iteration',
                                                          'percent_remaining')}))
  return (pd.DataFrame(runs, columns=RUN_COLUMNS),
          pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())


def summarize(runs):
  """Per (control, percent remaining, k): trials and means of instability and accuracy."""
  grouped = runs.groupby(['control', 'percent_remaining', 'spawn_iteration'])
  table = grouped.agg(trials=('trial', 'nunique'),
                      instability_test_points=('instability_test_points', 'mean'),
                      instability_train_points=('instability_train_points', 'mean'),
                      endpoint_test_accuracy=('endpoint_test_accuracy', 'mean'),
                      threshold_points=('threshold_points', 'max')).reset_index()
  table['stable'] = table['instability_test_points'] < table['threshold_points']
  return table.sort_values(['control', 'percent_remaining', 'spawn_iteration'],
                           ascending=[True, False, True], ignore_index=True)


def _label(control, percent):
  return f'{percent:g}%' + (' (random pruning)' if control == kinds_lib.RANDOM_PRUNE else '')


def _by_mask(table):
  """Groups of rows per (control, percent remaining): lottery masks first, densest first."""
  groups = table.groupby(['control', 'percent_remaining'])
  return sorted(groups, key=lambda group: (group[0][0] != 'none', -group[0][1]))


def path_figure(curves, path, title):
  """Test error along the path, a panel per k, a line per mask (mean over trials)."""
  spawns = sorted(set(curves['spawn_iteration']))
  figure, axes = figures.panels(len(spawns))
  percents = sorted(set(curves['percent_remaining']), reverse=True)
  colors = dict(zip(percents, figures.series_colors(len(percents))))
  for axes_, spawn in zip(axes, spawns):
    part = curves[curves['spawn_iteration'] == spawn]
    for (control, percent), rows in _by_mask(part):
      mean = rows.groupby('alpha')['test_error'].mean()
      axes_.plot(mean.index, mean.to_numpy() * 100, color=colors[percent],
                 linestyle='--' if control == kinds_lib.RANDOM_PRUNE else '-', marker='.',
                 label=_label(control, percent))
    axes_.set_title(f'spawned at iteration k = {spawn:,}')
    axes_.set_xlabel('interpolation α')
    axes_.set_ylabel('test error (%)')
    axes_.grid(True, alpha=0.3)
  handles, labels = axes[0].get_legend_handles_labels()
  figure.legend(handles, labels, loc='outside lower center', ncol=min(len(labels), 6))
  figure.suptitle(f'{title}: error along the linear path between two copies')
  return figures.save(figure, path)


def instability_figure(table, path, title):
  """Instability (test) vs spawn iteration k, a line per percent remaining; random dashed."""
  figure, axes = figures.panels(1)
  axes_ = axes[0]
  percents = sorted(set(table['percent_remaining']), reverse=True)
  colors = dict(zip(percents, figures.series_colors(len(percents))))
  for (control, percent), rows in _by_mask(table):
    axes_.plot(rows['spawn_iteration'], rows['instability_test_points'], marker='o',
               color=colors[percent], linestyle='--' if control == kinds_lib.RANDOM_PRUNE else '-',
               label=_label(control, percent))
  axes_.axhline(table['threshold_points'].max(), color='gray', linewidth=0.8, linestyle=':')
  axes_.set_xscale('symlog', linthresh=max(1, min([k for k in table['spawn_iteration'] if k > 0],
                                                  default=1)))
  spawns = sorted(set(table['spawn_iteration']))
  axes_.set_xticks(spawns, [f'{k:,}' for k in spawns])
  axes_.set_xticks([], minor=True)
  axes_.set_xlabel('spawn iteration k')
  axes_.set_ylabel('instability (test error, points)')
  axes_.grid(True, alpha=0.3)
  axes_.legend(fontsize='small')
  figure.suptitle(f'{title}: instability')
  return figures.save(figure, path)


def verdict_lines(table, tolerance_points):
  """Markdown lines: per sparsity and k, stable or not and matching the dense network or not."""
  lines = ['## Instability (linear mode connectivity)', '',
           'Two copies of each (sub)network trained from iteration k under different data '
           'orders, evaluated along the linear path between them; instability = the largest '
           'test error on the path minus the mean of the endpoints\' errors.', '']
  dense = table[(table['control'] == 'none') & (table['percent_remaining'] == 100)]
  dense_accuracy = dict(zip(dense['spawn_iteration'], dense['endpoint_test_accuracy']))
  for row in table.itertuples():
    verdict = 'stable' if row.stable else 'unstable'
    kind = 'random mask' if row.control == kinds_lib.RANDOM_PRUNE else 'lottery mask'
    line = (f'- {row.percent_remaining:g}% remaining ({kind}), k = '
            f'{row.spawn_iteration:,}: {verdict} ({row.instability_test_points:.2f} points on '
            f'test, {row.instability_train_points:.2f} on train; {row.trials} '
            f'trial{"s" if row.trials != 1 else ""})')
    reference = dense_accuracy.get(row.spawn_iteration)
    if reference is not None and row.percent_remaining != 100:
      difference = 100 * (row.endpoint_test_accuracy - reference)
      matches = difference >= -tolerance_points
      line += (f'; {"matches" if matches else "does not match"} the dense network '
               f'({100 * row.endpoint_test_accuracy:.2f}% vs {100 * reference:.2f}% final test '
               f'accuracy, {difference:+.2f} points)')
    lines.append(line + '.')
  return lines + ['']
