"""Pruning at initialization (masks chosen at θ0, before training: SNIP, GraSP, SynFlow,
magnitude, random) against pruning after training: a report section and two figures.

Accuracy figure: test accuracy at early stop vs percent remaining per unablated method (global
solid, layerwise dashed, random dash-dotted) beside the IMP tickets, one-shot pruning and random
pruning (dotted). Density figure: per method, each layer's percent remaining vs the overall, where
layer collapse (a prunable layer emptied, Tanaka et al. 2020) shows. The section tabulates
accuracy, multiply-adds and the gap to the nearest IMP ticket, the ablations (Frankle et al.
2021) and the collapsed layers, these from the runs' summary.json. No PaI runs: nothing added.
"""

import json
import os
from typing import NamedTuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import pandas as pd

from foundations import paths
from lottery_ticket.analysis import figures
from lottery_ticket.analysis import markdown
from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.protocols import kinds as kinds_lib

ACCURACY_FIGURE = ('figure_pai.png',
                   'Pruning at initialization: test accuracy at early stop vs percent remaining, '
                   'one line per method (layerwise dashed, random dash-dotted) beside IMP tickets, '
                   'one-shot pruning after training and random pruning (dotted)')
DENSITY_FIGURE = ('figure_pai_layers.png',
                  'Pruning at initialization: percent of each layer\'s weights remaining vs the '
                  'overall percent remaining, per method; ✕: a layer left with no weights')
METHOD_COLORS = {'snip': 'tab:red', 'grasp': 'tab:purple', 'synflow': 'tab:orange',
                 'magnitude': 'tab:olive', 'random': 'tab:gray'}
ABLATIONS = ('shuffle', 'reinit', 'invert')  # after 'none', the unablated method
ABLATION_NOTES = {'shuffle': 'the mask shuffled within each layer', 'reinit': 'the kept '
                  'weights reinitialised', 'invert': 'the lowest-scored weights kept instead'}
REFERENCE_KINDS = (kinds_lib.TICKET, kinds_lib.ONE_SHOT, kinds_lib.RANDOM_PRUNE)
_DISTRIBUTION_MARKERS = {'uniform': 'v', 'er': '^', 'erk': 'D', 'paper': 'P'}
_RUN_COLUMNS = ('run', 'trial', 'kind', 'percent', 'method', 'scope', 'ablation',
                'distribution', 'multiply_adds', 'layer_percents', 'layer_totals', 'collapsed')


class Analysis(NamedTuple):
  """table: the summary table; runs: a row per PaI run (_RUN_COLUMNS); variants: a row per PaI
  kind in display order (method, scope, ablation, distribution, label, base: its unablated)."""
  table: pd.DataFrame
  runs: pd.DataFrame
  variants: pd.DataFrame


def _read_run(experiment_dir, run):
  with open(os.path.join(experiment_dir, run.run, paths.SUMMARY)) as f:
    summary = json.load(f)
  layers = summary.get('layers') or {}
  collapsed = summary.get('collapsed_layers') or [  # the same rule, from the layers
      name for name, layer in layers.items() if layer['remaining'] == 0]
  return dict(run=run.run, trial=run.trial, kind=run.kind, percent=run.percent,
              method=summary.get('method'), scope=summary.get('scope') or 'global',
              ablation=summary.get('ablation') or 'none',
              distribution=summary.get('sparsity_distribution'),
              multiply_adds=summary.get('multiply_adds_remaining'),
              layer_percents={n: float(l['percent_remaining']) for n, l in layers.items()},
              layer_totals={n: int(l['total']) for n, l in layers.items()},
              collapsed=list(collapsed))


def _label(method, scope, ablation, distribution):
  label = kinds_lib.PAI_METHOD_LABELS.get(method, str(method))
  label += f' ({distribution})' if distribution else ''
  if scope == 'layerwise':
    label += ', layerwise'
  return label if ablation == 'none' else f'{label}, {ablation}'


def _order(row):
  methods, ablations = list(kinds_lib.PAI_METHOD_LABELS), ('none',) + ABLATIONS
  return (methods.index(row.method) if row.method in methods else len(methods), str(row.method),
          row.scope != 'global', str(row.distribution or ''),
          ablations.index(row.ablation) if row.ablation in ablations else len(ablations),
          row.ablation)


def analyse(experiment_dir, runs, table):
  """The Analysis of `runs` (a summary.runs_table of `experiment_dir`) and `table` (its
  summary.summarize); its runs are empty when the experiment has no PaI runs."""
  pai = runs[runs['kind'].map(kinds_lib.is_pai)]
  pai = pai.assign(percent=pai['percent_remaining'].round(summary_lib.PERCENT_DECIMALS))
  pai_runs = pd.DataFrame([_read_run(experiment_dir, run) for run in pai.itertuples()],
                          columns=list(_RUN_COLUMNS)).astype({'multiply_adds': float})
  variants = pai_runs.drop_duplicates('kind')[['kind', 'method', 'scope', 'ablation',
                                               'distribution']]
  variants = variants.assign(
      label=[_label(v.method, v.scope, v.ablation, v.distribution) for v in variants.itertuples()],
      base=[(v.method, v.scope, v.distribution) for v in variants.itertuples()])
  order = sorted(variants.itertuples(), key=_order)
  variants = variants.set_index('kind').loc[[v.kind for v in order]]
  return Analysis(table, pai_runs, variants)


def _unablated(analysis):
  return analysis.variants[analysis.variants['ablation'] == 'none']


def _ticket_gap(tickets, row):
  if tickets.empty:
    return '—'
  nearest = summary_lib.nearest_percents(tickets.index, [row.percent_remaining])[0]
  gap = 100 * (row.test_accuracy_at_early_stop_mean - tickets.loc[nearest])
  return f'{gap:+.2f} (ticket at {nearest:g}%)'


def methods_table(analysis):
  """Markdown rows: per unablated method and percent remaining, accuracy, multiply-adds and
  the gap to the IMP ticket nearest in size."""
  table = analysis.table
  tickets = table[table['kind'] == kinds_lib.TICKET].set_index('percent_remaining')[
      'test_accuracy_at_early_stop_mean']
  multiply_adds = analysis.runs.groupby(['kind', 'percent'])['multiply_adds'].mean()
  lines = ['| method | % remaining | trials | test acc. at early stop (min–max) | '
           'multiply-adds remaining | minus nearest IMP ticket (points) |',
           '|---|---|---|---|---|---|']
  for kind, variant in _unablated(analysis).iterrows():
    for row in table[table['kind'] == kind].itertuples():
      adds = multiply_adds.get((kind, row.percent_remaining), float('nan'))
      lines.append(f'| {variant.label} | {row.percent_remaining:g} | {row.trials} | '
                   f'{markdown.accuracy_cell(row)} | {"—" if pd.isna(adds) else f"{100 * adds:.2f}%"} | '
                   f'{_ticket_gap(tickets, row)} |')
  return lines


def ablation_lines(analysis):
  """The 'Ablations' subsection: per method and percent remaining, the unablated accuracy and
  each ablation minus it (points); [] if no ablation was run."""
  variants = analysis.variants
  present = list(dict.fromkeys(a for a in variants['ablation'] if a != 'none'))
  if not present:
    return []
  accuracy = analysis.table.set_index(['kind', 'percent_remaining'])[
      'test_accuracy_at_early_stop_mean']
  notes = '; '.join(f'{a}: {ABLATION_NOTES[a]}' for a in present if a in ABLATION_NOTES)
  lines = ['### Ablations', '',
           'Each ablation minus the unablated method at the same percent remaining, test '
           f'accuracy at early stop in points{f" ({notes})" if notes else ""}.', '',
           '| method | % remaining | unablated | ' + ' | '.join(present) + ' |',
           '|---|---|---|' + '---|' * len(present)]
  for base, group in variants.groupby('base', sort=False):
    kinds = {variant.ablation: kind for kind, variant in group.iterrows()}
    if set(kinds) == {'none'}:
      continue
    percents = sorted({p for k, p in accuracy.index if k in kinds.values()}, reverse=True)
    label = _label(base[0], base[1], 'none', base[2])
    for percent in percents:
      unablated = accuracy.get((kinds.get('none'), percent), float('nan'))
      cells = []
      for ablation in present:
        ablated = accuracy.get((kinds.get(ablation), percent), float('nan'))
        cells.append('—' if pd.isna(ablated) or pd.isna(unablated)
                     else f'{100 * (ablated - unablated):+.2f}')
      lines.append(f'| {label} | {percent:g} | '
                   f'{"—" if pd.isna(unablated) else f"{100 * unablated:.2f}%"} | '
                   + ' | '.join(cells) + ' |')
  return lines + ['']


def collapsed_runs(analysis):
  """[(run directory, [(layer, weights in it)])] of the runs with a prunable layer emptied."""
  return [(run.run, [(layer, run.layer_totals.get(layer)) for layer in run.collapsed])
          for run in analysis.runs.sort_values('run').itertuples() if run.collapsed]


def _collapse_lines(analysis):
  collapsed = collapsed_runs(analysis)
  if not collapsed:
    return ['No layer collapse: every prunable layer kept at least one weight in every run.']
  lines = [f'**{len(collapsed)} run{"s" if len(collapsed) > 1 else ""} with a collapsed layer**: '
           'a prunable layer with 0 weights left, which no signal passes through.', '']
  for run, layers in collapsed:
    lines.append(f'- `{run}`: ' + ', '.join(
        f'`{layer}`' + ('' if total is None else f' (0 of {total:,} weights)')
        for layer, total in layers))
  return lines


def section(analysis):
  """Lines of the 'Pruning at initialization' section, or [] without PaI runs."""
  if analysis.runs.empty:
    return []
  lines = ['## Pruning at initialization', '',
           'Masks chosen at θ0, before any training, then trained as the tickets are. Percent '
           'remaining: of all prunable weights; multiply-adds: the masked network\'s forward '
           'multiply-adds as a percent of the dense network\'s; the gap: minus the winning ticket '
           '(iterative pruning) nearest in size, test accuracy at early stop.', '']
  lines += methods_table(analysis) + [''] + ablation_lines(analysis)
  lines += ['### Layer collapse', ''] + _collapse_lines(analysis) + ['']
  return lines


def _line(axes, rows, label, **style):
  mean = rows['test_accuracy_at_early_stop_mean'].to_numpy(float) * 100
  errors = [mean - rows['test_accuracy_at_early_stop_min'].to_numpy(float) * 100,
            rows['test_accuracy_at_early_stop_max'].to_numpy(float) * 100 - mean]
  axes.errorbar(rows['percent_remaining'], mean, yerr=errors, markersize=4, capsize=3,
                label=label, **style)
  return list(rows['percent_remaining'])


def _method_style(variant):
  if variant.distribution:
    return dict(color=METHOD_COLORS.get(variant.method, 'black'), linestyle='-.',
                marker=_DISTRIBUTION_MARKERS.get(variant.distribution, 'o'))
  return dict(color=METHOD_COLORS.get(variant.method, 'black'), marker='o',
              linestyle='--' if variant.scope == 'layerwise' else '-')


def accuracy_figure(analysis, path, title):
  """Test accuracy at early stop vs percent remaining: each unablated method beside the
  tickets, one-shot pruning, random pruning and (dotted black) the dense network."""
  table = analysis.table
  figure, (axes,) = figures.panels(1, height_inches=5.5)
  figure.set_figwidth(7.5)
  figures.dense_line(axes, table)
  percents = []
  for kind in REFERENCE_KINDS:
    rows = table[(table['kind'] == kind) & (table['percent_remaining'] < 100.0)]
    if not rows.empty:
      percents += _line(axes, rows, summary_lib.kind_label(kind), linestyle=':', marker='s',
                        color=figures.KIND_COLORS.get(kind, 'black'))
  for kind, variant in _unablated(analysis).iterrows():
    percents += _line(axes, table[table['kind'] == kind], variant.label, **_method_style(variant))
  figures.percent_axis(axes, percents)
  axes.set_ylabel('test accuracy at early stop (%)')
  handles, labels = axes.get_legend_handles_labels()
  figure.legend(handles, labels, loc='outside lower center', ncol=min(len(labels), 3))
  figure.suptitle(f'{title}: pruning at initialization vs after training')
  return figures.save(figure, path)


def _density_panel(axes, runs, layers, colors):
  percents = sorted(set(runs['percent']), reverse=True)
  axes.plot(percents, percents, color='black', linestyle='--', linewidth=0.8,
            label='every layer at the overall percent')
  for layer in layers:
    values = pd.Series([p.get(layer) for p in runs['layer_percents']], runs['percent'], float)
    mean = values.groupby(level=0).mean().dropna().sort_index(ascending=False)
    axes.plot(mean.index, mean.to_numpy(float), color=colors[layer], marker='o', markersize=3,
              linewidth=1, label=layer)
  collapsed = runs[runs['collapsed'].map(bool)]
  if not collapsed.empty:
    axes.scatter(collapsed['percent'], [0.0] * len(collapsed), marker='x', s=60, color='red',
                 zorder=3, label='layer collapse (0 weights)')
  figures.percent_axis(axes, percents)
  axes.set_yscale('symlog', linthresh=0.1)
  axes.set_yticks([0, 0.1, 1, 10, 100], ['0', '0.1', '1', '10', '100'])
  axes.set_ylim(-0.02, 130)
  axes.set_ylabel('percent of the layer\'s weights remaining')


def density_figure(analysis, path, title):
  """Per unablated method, each layer's percent remaining (mean over trials) vs the overall."""
  variants = _unablated(analysis)
  if variants.empty:
    variants = analysis.variants
  runs = analysis.runs
  layers = list(dict.fromkeys(name for percents in runs['layer_percents'] for name in percents))
  colors = dict(zip(layers, figures.series_colors(len(layers))))
  columns = min(len(variants), 3)
  rows = -(-len(variants) // columns)
  figure = Figure(figsize=(4.8 * columns, 4.2 * rows + 0.4 * (1 + len(layers) // 4)),
                  layout='constrained')
  FigureCanvasAgg(figure)
  grid = figure.subplots(rows, columns, squeeze=False).ravel()
  for axes, (kind, variant) in zip(grid, variants.iterrows()):
    _density_panel(axes, runs[runs['kind'] == kind], layers, colors)
    axes.set_title(variant.label)
  for axes in grid[len(variants):]:
    axes.set_visible(False)
  figures.panel_legend(figure, grid[:len(variants)])
  figure.suptitle(f'{title}: per-layer density of the masks chosen at initialization')
  return figures.save(figure, path)


def figures_to_draw(analysis):
  """[(file name, caption, drawing function)]: both figures with PaI runs, else none."""
  if analysis.runs.empty:
    return []
  return [ACCURACY_FIGURE + (accuracy_figure,), DENSITY_FIGURE + (density_figure,)]
