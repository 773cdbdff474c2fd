"""The paper's figures as PNG files, drawn with matplotlib's Agg canvas (no display needed).

Figure 1: early-stop iteration and test accuracy at early stop vs percent remaining, winning
tickets solid, random controls dashed. Figure 3: test accuracy over training at a few
sparsities. Figure 4: iterative vs one-shot pruning vs random reinitialisation. For networks
reported at fixed iterations (ResNet, VGG), the accuracy there vs percent remaining (Figs. 7-8). Points are
means over trials; error bars and bands span the min and max. Percent remaining is on a log
axis decreasing to the right, as in the paper.
"""


import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from foundations import save_restore
from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.analysis import verdicts
from lottery_ticket.protocols import kinds as kinds_lib

DEFAULT_CURVE_PERCENTS = (100, 51.3, 21.1, 7.0, 3.6, 1.9)
NETWORK_NAMES = {'lenet300_100': 'LeNet-300-100', 'conv2': 'Conv-2', 'conv4': 'Conv-4',
                 'conv6': 'Conv-6', 'vgg16': 'VGG-16', 'vgg19': 'VGG-19',
                 **{f'resnet{d}': f'ResNet-{d}' for d in (20, 32, 44, 56, 110)}}
DATASET_NAMES = {'mnist': 'MNIST', 'fashion_mnist': 'Fashion-MNIST', 'cifar10': 'CIFAR-10',
                 'fashion_mnist_sample': 'the bundled Fashion-MNIST sample (10K/2K)'}
KIND_COLORS = {name: kind.color for name, kind in kinds_lib.KINDS.items()}
FIGURE1_KINDS = (kinds_lib.TICKET,) + summary_lib.CONTROL_KINDS + summary_lib.BASELINE_KINDS
FIGURE4_KINDS = kinds_lib.PRUNED_KINDS + tuple(k for k in summary_lib.CONTROL_KINDS
                                               if k != kinds_lib.RANDOM_PRUNE)
_AXIS_LABELS = {'early_stop_iteration': 'early-stop iteration',
                'test_accuracy_at_early_stop': 'test accuracy at early stop (%)',
                'final_test_accuracy': 'test accuracy at end of training (%)',
                'test_accuracy_at_init': 'test accuracy at init, untrained (%)'}


def experiment_title(attrs):
  """'LeNet-300-100 on Fashion-MNIST' from a loaded DataFrame's attrs."""
  networks = '/'.join(NETWORK_NAMES.get(n, n) for n in attrs.get('networks', ())) or 'network?'
  datasets = '/'.join(DATASET_NAMES.get(d, d) for d in attrs.get('datasets', ())) or 'dataset?'
  return f'{networks} on {datasets}'


def panels(count, height_inches=4.2):
  """A figure of `count` side-by-side axes."""
  figure = Figure(figsize=(4.8 * count, height_inches), layout='constrained')
  FigureCanvasAgg(figure)
  return figure, figure.subplots(1, count, squeeze=False)[0]


def dense_line(axes, table):
  """The dense network's test accuracy at early stop, dotted black, if the table has it."""
  dense = verdicts.dense_reference(table)
  if dense is not None:
    axes.axhline(dense['test_accuracy_at_early_stop_mean'] * 100, color='black', linestyle=':',
                 linewidth=1, label='dense network (100%)')


def panel_legend(figure, panels):
  """One legend below the figure for every label drawn in `panels` (each label once)."""
  legend = {}  # label: handle
  for axes in panels:
    legend.update(zip(*reversed(axes.get_legend_handles_labels())))
  figure.legend(list(legend.values()), list(legend), loc='outside lower center',
                ncol=min(len(legend), 4))


def save(figure, path):
  with save_restore.atomic_path(path) as tmp_path:
    figure.savefig(tmp_path, format='png', dpi=120)
  return path


def _style(kind):
  return dict(color=KIND_COLORS.get(kind, 'black'),
              linestyle='--' if kind in summary_lib.CONTROL_KINDS else
              ':' if kind in summary_lib.BASELINE_KINDS else '-')


def percent_axis(axes, percents):
  """Log x axis of percent remaining, decreasing to the right, ticks at the data."""
  percents = sorted(set(percents), reverse=True)
  axes.set_xscale('log')
  axes.set_xlim(max(percents) * 1.15, min(percents) / 1.15)
  axes.set_xticks(percents, [f'{p:g}' for p in percents], minor=False,
                  rotation=90 if len(percents) > 8 else 0)
  axes.set_xticks([], minor=True)
  axes.set_xlabel('percent of weights remaining')
  axes.grid(True, alpha=0.3)


def statistic_panel(axes, table, kinds, statistic, style=None):
  """Mean of `statistic` vs percent remaining per kind, min-max error bars; True if drawn.

  `style(kind)` gives the line's matplotlib keywords (default: by kind, markers 'o').
  """
  scale = 1 if statistic == 'early_stop_iteration' else 100
  rows = table[table['kind'].isin(kinds)]
  for kind in summary_lib.kind_order(rows['kind']):
    part = rows[rows['kind'] == kind]
    mean = part[f'{statistic}_mean'].to_numpy(float) * scale
    errors = [mean - part[f'{statistic}_min'].to_numpy(float) * scale,
              part[f'{statistic}_max'].to_numpy(float) * scale - mean]
    axes.errorbar(part['percent_remaining'], mean, yerr=errors, markersize=4, capsize=3,
                  label=summary_lib.kind_label(kind),
                  **(style(kind) if style else dict(marker='o', **_style(kind))))
  axes.set_ylabel(_AXIS_LABELS.get(statistic, statistic.replace('_', ' ')))
  if rows.empty:
    axes.text(0.5, 0.5, 'no runs', ha='center', va='center', transform=axes.transAxes)
    return False
  percent_axis(axes, rows['percent_remaining'])
  return True


def _trials_phrase(counts):
  """'2 trials' or, when points differ, '1-2 trials per point'."""
  low, high = (int(min(counts)), int(max(counts))) if len(counts) else (0, 0)
  if low == high:
    return f'{high} trial{"s" if high != 1 else ""}'
  return f'{low}-{high} trials per point'


def _trials_note(table):
  return f'{_trials_phrase(table["trials"].tolist())}, mean with min-max'


def _statistics_figure(table, path, title, kinds, statistics, heading):
  figure, axes = panels(len(statistics))
  drawn = [statistic_panel(ax, table, kinds, stat) for ax, stat in zip(axes, statistics)]
  if any(drawn):
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc='outside lower center', ncol=min(len(labels), 4))
  figure.suptitle(f'{title}: {heading} ({_trials_note(table[table["kind"].isin(kinds)])})')
  return save(figure, path)


def figure1(table, path, title):
  """Early-stop iteration and test accuracy at early stop vs percent remaining (paper Fig. 1)."""
  return _statistics_figure(table, path, title, FIGURE1_KINDS,
                            ('early_stop_iteration', 'test_accuracy_at_early_stop'),
                            figure1_heading(table['kind']))


def figure1_heading(kinds):
  """'winning tickets vs random reinit, random pruning': only the controls that were run."""
  present = [k for k in summary_lib.kind_order(kinds) if k in FIGURE1_KINDS[1:]]
  labels = ', '.join(summary_lib.kind_label(k) for k in present)
  return f'winning tickets vs {labels}' if labels else 'winning tickets'


def figure4(table, path, title):
  """Iterative vs one-shot pruning vs random reinitialisation (paper Fig. 4); absent kinds skip."""
  names = {kinds_lib.TICKET: 'iterative', kinds_lib.ONE_SHOT: 'one-shot'}
  present = summary_lib.kind_order(table.loc[table['kind'].isin(FIGURE4_KINDS), 'kind'])
  heading = ' vs '.join(dict.fromkeys(names.get(k, 'reinit') for k in present)) or 'no runs'
  return _statistics_figure(table, path, title, FIGURE4_KINDS,
                            ('early_stop_iteration', 'test_accuracy_at_early_stop',
                             'final_test_accuracy'), heading)


def figure_report_iterations(table, path, title, iterations):
  """Test accuracy at each report iteration vs percent remaining (the paper's Figures 7 and 8,
  where ResNet-20 and VGG-19 are compared at fixed iterations rather than at early stop)."""
  figure, axes = panels(len(iterations))
  kinds = kinds_lib.PRUNED_KINDS + summary_lib.CONTROL_KINDS
  drawn = []
  for axes_, iteration in zip(axes, iterations):
    drawn.append(statistic_panel(axes_, table, kinds, summary_lib.report_column(iteration)))
    axes_.set_title(f'iteration {iteration:,}')
    axes_.set_ylabel('test accuracy (%)')
  if any(drawn):
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc='outside lower center', ncol=min(len(labels), 4))
  figure.suptitle(f'{title}: accuracy at fixed iterations '
                  f'({_trials_note(table[table["kind"].isin(kinds)])})')
  return save(figure, path)


def _curve_panels(df):
  """Kinds to draw over training: winning tickets first, then each control present."""
  kinds = [k for k in FIGURE1_KINDS if k in set(df['kind'])]
  return kinds or summary_lib.kind_order(df['kind'])[:1]


def figure3(df, path, title, percents=DEFAULT_CURVE_PERCENTS):
  """Test accuracy vs training iteration at the percents nearest `percents` (paper Fig. 3).

  Args:
    df: a DataFrame from load.load_experiment.
    path: the PNG file to write.
    title: the experiment's name for the figure title.
    percents: percent-remaining values to show; each kind shows the nearest ones it has.

  Returns:
    `path`.
  """
  kinds = _curve_panels(df)
  figure, axes = panels(len(kinds), height_inches=4.6)
  chosen = {kind: summary_lib.nearest_percents(
      df.loc[df['kind'] == kind, 'percent_remaining'].round(summary_lib.PERCENT_DECIMALS),
      percents) for kind in kinds}
  all_percents = sorted(set().union(*chosen.values()), reverse=True)
  colors = dict(zip(all_percents, series_colors(len(all_percents))))
  low_values, high_values, trial_counts = [], [], []
  for axes_, kind in zip(axes, kinds):
    for percent in chosen[kind]:
      curve = summary_lib.curves(df, kind, percent)
      trial_counts.append(curve['trials'].max())
      x = curve['iteration'].to_numpy()
      axes_.plot(x, curve['mean'] * 100, color=colors[percent],
                 linestyle=_style(kind)['linestyle'], linewidth=0.9)
      axes_.fill_between(x, curve['min'] * 100, curve['max'] * 100, color=colors[percent],
                         alpha=0.2, linewidth=0)
      late = curve[x >= 0.05 * x.max()]
      low_values.append(late['min'].to_numpy() * 100)
      high_values.append(late['max'].to_numpy() * 100)
    axes_.set_title(summary_lib.kind_label(kind))
    axes_.set_xlabel('training iteration')
    axes_.set_ylabel('test accuracy (%)')
    axes_.grid(True, alpha=0.3)
  if low_values:
    low, high = _accuracy_limits(np.concatenate(low_values), np.concatenate(high_values))
    for axes_ in axes:
      axes_.set_ylim(low, high)
  handles = [Line2D([], [], color=colors[p], label=f'{p:g}%') for p in all_percents]
  figure.legend(handles=handles, title='percent of weights remaining (mean; band: min-max)',
                loc='outside lower center', ncol=len(handles))
  figure.suptitle(f'{title}: test accuracy during training ({_trials_phrase(trial_counts)})')
  return save(figure, path)


def series_colors(count):
  return [colormaps['viridis'](x) for x in np.linspace(0, 0.85, max(count, 1))]


def _accuracy_limits(low_values, high_values):
  """Y limits that show the plateau, not the first few evaluations (a 2nd-percentile floor)."""
  low, high = np.percentile(low_values, 2), high_values.max()
  margin = max(high - low, 0.5) * 0.08
  return low - margin, min(high + margin, 100)
