"""Dynamic sparse training (RigL, SET; static sparse as the control: DESIGN.md §14) against the
lottery tickets and tfmot pruning: a report section and two figures.

The section tabulates, per kind and percent remaining, accuracy beside the training iterations it
took to get that network in all: one training for a DST run, static sparse or tfmot; two for a
DST mask retrained from θ0 (the DST run, then the retraining); L + 1 for the IMP ticket of level
L (the dense network and every level before it). Accuracy figure: test accuracy at early stop vs
percent remaining. Mask-updates figure: the fraction of each layer's active weights moved per
update (mask_updates.csv), per DST kind. No sparse-training runs: nothing added.
"""

import os
from typing import NamedTuple

import pandas as pd

from lottery_ticket.analysis import figures
from lottery_ticket.analysis import markdown
from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.protocols import kinds as kinds_lib

ACCURACY_FIGURE = ('figure_sparse_training.png',
                   'Sparse training: test accuracy at early stop vs percent remaining, RigL, SET '
                   'and static sparse (line style: sparsity distribution), their masks retrained '
                   'from θ0 dashed, IMP tickets and tfmot pruning dotted')
UPDATES_FIGURE = ('figure_sparse_mask_updates.png',
                  'Sparse training: fraction of each layer\'s active weights moved (grown) at each '
                  'mask update vs iteration, one run per method; dashed: the drop fraction f(t)')
UPDATES_FILE = 'mask_updates.csv'
TFMOT_KIND = 'tfmot_pruning'  # one training from the dense network to the target sparsity
METHOD_COLORS = {'rigl': 'tab:red', 'set': 'tab:purple', 'static': 'tab:gray'}
# Sparsity distribution: (line style, marker); dashed and dotted are the tickets' and references'.
DISTRIBUTION_STYLES = {'erk': ('-', 'o'), 'er': ((0, (6, 2, 1, 2)), '^'),
                       'uniform': ('-.', 'v'), 'paper': ((0, (8, 2, 1, 2, 1, 2)), 'P')}
_LAYER_MARKERS = ('o', 's', '^', 'v', 'D', 'P', 'X')
_UPDATE_COLUMNS = ('run', 'trial', 'kind', 'percent', 'iteration', 'layer', 'active', 'grown',
                   'drop_fraction')


class Analysis(NamedTuple):
  """table: the summary table; kinds: the sparse-training kinds, display order (none: no DST
  runs); rows: the section table's rows (summary rows plus iterations_in_all and label);
  updates: every DST run's mask_updates.csv rows (_UPDATE_COLUMNS)."""
  table: pd.DataFrame
  kinds: tuple
  rows: pd.DataFrame
  updates: pd.DataFrame


def _kind_order(kind):
  methods, distributions = list(kinds_lib.SPARSE_METHOD_LABELS), list(DISTRIBUTION_STYLES)
  method, distribution = kinds_lib.sparse_parts(kind)
  return (methods.index(method) if method in methods else len(methods), method,
          distributions.index(distribution) if distribution in distributions else
          len(distributions), distribution, kinds_lib.is_sparse_ticket(kind))


def iterations_in_all(runs):
  """Per run of `runs` (a runs_table with `percent`), the training iterations its network took:
  its own, plus its DST run's (same trial and size) for a retrained DST mask, times L + 1 for
  the IMP ticket of level L (each level trained as long as it)."""
  own = runs['training_iterations'].astype(float)
  total = own.copy()
  imp = (runs['kind'] == kinds_lib.TICKET) & runs['level'].notna()
  total[imp] = own[imp] * (runs.loc[imp, 'level'].astype(float) + 1)
  source = runs.drop_duplicates(['kind', 'trial', 'percent']).set_index(
      ['kind', 'trial', 'percent'])['training_iterations']
  for index in runs.index[runs['kind'].map(kinds_lib.is_sparse_ticket)]:
    run = runs.loc[index]
    dst_kind = run['kind'][:-len(kinds_lib.SPARSE_TICKET_SUFFIX)]
    total[index] = own[index] + float(source.get((dst_kind, run['trial'], run['percent']),
                                                 own[index]))
  return total


def _read_updates(experiment_dir, run):
  path = os.path.join(experiment_dir, run.run, UPDATES_FILE)
  if not os.path.isfile(path):  # static sparse: the mask never moves
    return None
  return pd.read_csv(path).assign(run=run.run, trial=run.trial, kind=run.kind,
                                  percent=run.percent)


def analyse(experiment_dir, runs, table):
  """The Analysis of `runs` (a summary.runs_table of `experiment_dir`) and `table` (its
  summary.summarize); its kinds are empty when the experiment has no sparse-training runs."""
  runs = runs.assign(percent=runs['percent_remaining'].round(summary_lib.PERCENT_DECIMALS))
  kinds = tuple(sorted(set(filter(kinds_lib.is_sparse, runs['kind'])), key=_kind_order))
  dst_percents = runs.loc[runs['kind'].isin(kinds), 'percent']
  tickets = table[(table['kind'] == kinds_lib.TICKET) & (table['level'].fillna(0) >= 1)]
  nearest = (summary_lib.nearest_percents(tickets['percent_remaining'], set(dst_percents))
             if kinds and not tickets.empty else [])
  costs = runs.assign(iterations_in_all=iterations_in_all(runs)).groupby(
      ['kind', 'percent'])['iterations_in_all'].mean()
  parts = [table[table['kind'] == kind] for kind in kinds]
  if kinds:
    parts += [tickets[tickets['percent_remaining'].isin(nearest)],
              table[table['kind'] == TFMOT_KIND]]
  rows = pd.concat(parts, ignore_index=True) if parts else table.iloc[:0]
  rows = rows.assign(
      label=rows['kind'].map(summary_lib.kind_label),
      iterations_in_all=[costs.get((row.kind, row.percent_remaining), float('nan'))
                         for row in rows.itertuples()])
  dst = runs[runs['kind'].isin(kinds) & ~runs['kind'].map(kinds_lib.is_sparse_ticket)]
  updates = [u for u in (_read_updates(experiment_dir, run) for run in dst.itertuples())
             if u is not None]
  updates = (pd.concat(updates, ignore_index=True)[list(_UPDATE_COLUMNS)] if updates
             else pd.DataFrame(columns=list(_UPDATE_COLUMNS)))
  return Analysis(table, kinds, rows, updates)


def _label(row):
  if row.kind == kinds_lib.TICKET:
    return f'{row.label}, level {int(row.level)}'
  return row.label


def table_lines(analysis):
  """Markdown rows: per kind and percent remaining, accuracy and training iterations in all."""
  lines = ['| network | % remaining | test acc. at early stop (min–max) | final test acc. | '
           'trials | training iterations in all |', '|---|---|---|---|---|---|']
  for row in analysis.rows.itertuples():
    cost = '—' if pd.isna(row.iterations_in_all) else f'{row.iterations_in_all:,.0f}'
    lines.append(f'| {_label(row)} | {row.percent_remaining:g} | '
                 f'{markdown.accuracy_cell(row)} | '
                 f'{100 * row.final_test_accuracy_mean:.2f}% | {row.trials} | {cost} |')
  return lines


def update_statistics(analysis):
  """Per DST kind with mask updates, (kind, runs, first update's iteration, mean over runs of the
  fraction of all active weights it moved, the drop fraction f(t) then, updates per run (min,
  max), the last update's iteration, the layers that never moved in any run: dense ones)."""
  statistics = []
  for kind, updates in analysis.updates.groupby('kind', sort=False):
    firsts, counts, lasts = [], [], []
    for _, run in updates.groupby('run'):
      first = run[run['iteration'] == run['iteration'].min()]
      firsts.append((first['grown'].sum() / first['active'].sum(), first['drop_fraction'].mean(),
                     int(first['iteration'].iloc[0])))
      counts.append(run['iteration'].nunique())
      lasts.append(int(run['iteration'].max()))
    moved, schedule, iterations = zip(*firsts)
    grown = updates.groupby('layer', sort=False)['grown'].sum()
    statistics.append((kind, len(firsts), min(iterations), sum(moved) / len(moved),
                       sum(schedule) / len(schedule), min(counts), max(counts), max(lasts),
                       list(grown.index[grown == 0])))
  return sorted(statistics, key=lambda s: _kind_order(s[0]))


def _update_lines(analysis):
  lines = []
  for kind, runs, first, moved, schedule, low, high, last, still in update_statistics(analysis):
    count = f'{low}' if low == high else f'{low}–{high}'
    still = f'; never moved: {", ".join(f"`{layer}`" for layer in still)}' if still else ''
    lines.append(f'- {summary_lib.kind_label(kind)}: the first update (iteration {first:,}) '
                 f'moved {100 * moved:.1f}% of all active weights (mean over {runs} '
                 f'run{"s" if runs > 1 else ""}; drop fraction f(t) of each layer then: '
                 f'{100 * schedule:.1f}%{still}), {count} updates per run, the last at '
                 f'iteration {last:,}.')
  return lines or ['No mask updates recorded (static sparse only).']


def section(analysis):
  """Lines of the 'Sparse training' section, or [] without sparse-training runs."""
  if not analysis.kinds:
    return []
  lines = ['## Sparse training', '',
           'Dynamic sparse training starts from a random mask at θ0 with a fixed number of '
           'weights per layer (the sparsity distribution in brackets) and never trains the '
           'dense network: RigL and SET drop the smallest weights every few iterations and grow '
           'as many where the dense gradient is largest (RigL) or at random (SET); static '
           'sparse keeps the initial mask. An IMP ticket needs one full training per level '
           '(the dense network and every level before its own), hence the last column. '
           + ('IMP tickets shown: the level nearest in size to each sparse-training size.'
              if (analysis.rows['kind'] == kinds_lib.TICKET).any() else
              'This experiment has no pruned IMP ticket to compare with.')
           + (' Compare tfmot by its final accuracy: its schedule is still removing weights '
              'when its validation loss is lowest, so its early stop is a denser network.'
              if (analysis.rows['kind'] == TFMOT_KIND).any() else ''), '']
  lines += table_lines(analysis) + ['', '### Mask updates', ''] + _update_lines(analysis)
  return lines + ['']


def _dst_style(kind):
  method, distribution = kinds_lib.sparse_parts(kind)
  linestyle, marker = DISTRIBUTION_STYLES.get(distribution, ('-', 'o'))
  style = dict(color=METHOD_COLORS.get(method, 'black'), marker=marker, linestyle=linestyle)
  if kinds_lib.is_sparse_ticket(kind):
    style.update(linestyle='--', markerfacecolor='white')
  return style


def _reference_style(kind):
  return dict(color=figures.KIND_COLORS.get(kind, 'black'), linestyle=':', marker='s')


def _distinct(percents, ratio=1.02):
  """`percents` less those within `ratio` of a larger one kept: ticks that would overlap
  (51.3 beside 51.2)."""
  kept = []
  for percent in sorted(set(percents), reverse=True):
    if not kept or kept[-1] / percent > ratio:
      kept.append(percent)
  return kept


def accuracy_figure(analysis, path, title):
  """Test accuracy at early stop vs percent remaining: every sparse-training kind beside the IMP
  tickets (levels >= 1), tfmot pruning and (dotted black) the dense network."""
  table = analysis.table
  figure, (axes,) = figures.panels(1, height_inches=5.5)
  figure.set_figwidth(9.5)
  figures.dense_line(axes, table)
  references = table[table['kind'].isin((kinds_lib.TICKET, TFMOT_KIND))
                     & (table['percent_remaining'] < 100.0)]
  statistic = 'test_accuracy_at_early_stop'
  if not references.empty:  # (statistic_panel writes 'no runs' on an empty panel)
    figures.statistic_panel(axes, references, references['kind'], statistic, _reference_style)
  for kind in analysis.kinds:  # one at a time: statistic_panel would sort them by name
    figures.statistic_panel(axes, table, (kind,), statistic, _dst_style)
  shown = pd.concat([references, table[table['kind'].isin(analysis.kinds)]])
  figures.percent_axis(axes, _distinct(shown['percent_remaining']))
  handles, labels = axes.get_legend_handles_labels()
  figure.legend(handles, labels, loc='outside lower center', ncol=min(len(labels), 3))
  figure.suptitle(f'{title}: sparse training vs pruning')
  return figures.save(figure, path)


def updates_figure(analysis, path, title):
  """Per DST kind with updates, for its smallest run of the first trial, each layer's fraction
  of active weights grown vs iteration, and the schedule f(t) (dashed)."""
  updates = analysis.updates
  kinds = [kind for kind in analysis.kinds if kind in set(updates['kind'])]
  layers = list(dict.fromkeys(updates['layer']))
  colors = dict(zip(layers, figures.series_colors(len(layers))))
  figure, grid = figures.panels(len(kinds))
  for axes, kind in zip(grid, kinds):
    rows = updates[updates['kind'] == kind]
    rows = rows[rows['trial'] == rows['trial'].min()]
    rows = rows[rows['percent'] == rows['percent'].min()]
    schedule = rows.drop_duplicates('iteration')
    axes.plot(schedule['iteration'], 100 * schedule['drop_fraction'], color='black',
              linestyle='--', linewidth=0.8, label='drop fraction f(t)', zorder=3)
    for layer, part in rows.groupby('layer', sort=False):  # hollow markers: overlaps show
      axes.plot(part['iteration'], 100 * part['grown'] / part['active'], color=colors[layer],
                marker=_LAYER_MARKERS[layers.index(layer) % len(_LAYER_MARKERS)],
                markersize=6, markerfacecolor='none', linewidth=1.2, label=layer)
    axes.set_title(f'{summary_lib.kind_label(kind)}, {rows["percent"].iloc[0]:g}% remaining '
                   f'(trial {rows["trial"].iloc[0]})', fontsize=9)
    axes.set_xlabel('training iteration')
    axes.set_ylabel('active weights moved at the update (%)')
    axes.grid(True, alpha=0.3)
  figures.panel_legend(figure, grid)
  figure.suptitle(f'{title}: mask updates of dynamic sparse training')
  return figures.save(figure, path)


def figures_to_draw(analysis):
  """[(file name, caption, drawing function)]: the accuracy figure with sparse-training runs,
  the mask-updates figure where RigL or SET recorded updates; else none."""
  if not analysis.kinds:
    return []
  drawn = [ACCURACY_FIGURE + (accuracy_figure,)]
  return drawn + ([UPDATES_FIGURE + (updates_figure,)] if not analysis.updates.empty else [])
