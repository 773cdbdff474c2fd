"""Beyond magnitude pruning: mask criteria (Zhou et al. 2019) and learned masks (edge-popup,
biprop) against winning tickets, as report sections and figures.

The criteria figure has one line per criterion (iterative solid, one-shot dash-dotted): test
accuracy at early stop, and at init (the masked network at its starting weights, untrained:
Zhou et al.'s "supermask" accuracy, their Figure 4). The learned-masks figure puts masks learned
on frozen weights beside the iterative-pruning tickets and the dense network. Each is drawn only
when the experiment has such runs.
"""

import pandas as pd

from lottery_ticket.analysis import figures
from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.protocols import kinds as kinds_lib

CRITERIA_FIGURE = ('figure_criteria.png',
                   'Mask criteria: test accuracy at early stop and at init (untrained) vs percent '
                   'remaining; iterative solid, one-shot dash-dotted')
LEARNED_FIGURE = ('figure_learned_masks.png',
                  'Learned masks on frozen random weights (edge-popup, biprop) vs winning tickets '
                  'and the dense network: test accuracy vs percent remaining')
LEARNED_KINDS = kinds_lib.LEARNED_KINDS
CRITERION_COLORS = {'magnitude': 'tab:blue', 'large_init': 'tab:orange',
                    'magnitude_increase': 'tab:green', 'movement': 'tab:red',
                    'large_final_same_sign': 'tab:purple', 'random': 'tab:gray'}


def criterion_kinds(table):
  """The lottery and one-shot kinds of `table`, in display order, if more than one criterion
  is present (else [], there is nothing to compare)."""
  kinds = [k for k in summary_lib.kind_order(table['kind'])
           if summary_lib.criterion_of(k) is not None]
  criteria = {summary_lib.criterion_of(k)[1] for k in kinds}
  return kinds if len(criteria) > 1 else []


def has_learned_masks(table):
  return bool(set(table['kind']) & set(LEARNED_KINDS))


def _line_style(kind):
  pruned = summary_lib.criterion_of(kind)
  if pruned is None:  # learned masks
    return dict(color=figures.KIND_COLORS.get(kind, 'black'),
                linestyle='-', marker='s')
  base, criterion = pruned
  return dict(color=CRITERION_COLORS.get(criterion, 'black'), marker='o',
              linestyle='-' if base == kinds_lib.TICKET else '-.')


def _panel(axes, table, kinds, statistic):
  """figures' statistic panel, over the rows that have the statistic (runs recorded before the
  row at init have none), with this module's line styles."""
  has_values = table[table[f'{statistic}_mean'].notna()]
  return figures.statistic_panel(axes, has_values, kinds, statistic, _line_style)


def _finish(figure, axes, path, heading):
  handles, labels = axes[0].get_legend_handles_labels()
  if handles:
    figure.legend(handles, labels, loc='outside lower center', ncol=min(len(labels), 3))
  figure.suptitle(heading)
  return figures.save(figure, path)


def criteria_figure(table, path, title):
  """Accuracy at early stop and at init vs percent remaining, one line per criterion."""
  kinds = criterion_kinds(table)
  figure, axes = figures.panels(2, height_inches=5.0)
  _panel(axes[0], table, kinds, 'test_accuracy_at_early_stop')
  _panel(axes[1], table, kinds, 'test_accuracy_at_init')
  return _finish(figure, axes, path, f'{title}: mask criteria')


def _dense_line(axes, table, statistic):
  dense = table[(table['kind'] == kinds_lib.TICKET) & (table['percent_remaining'] == 100.0)]
  if not dense.empty:
    axes.axhline(dense[f'{statistic}_mean'].iloc[0] * 100, color='black', linestyle=':',
                 linewidth=1, label='dense network (100%)')


def learned_masks_figure(table, path, title):
  """Final accuracy and accuracy at early stop vs percent remaining: edge-popup, biprop, the
  iterative-pruning tickets and (dotted) the dense network."""
  kinds = [kinds_lib.TICKET] + [k for k in LEARNED_KINDS if k in set(table['kind'])]
  figure, axes = figures.panels(2, height_inches=5.0)
  for axes_, statistic in zip(axes, ('final_test_accuracy', 'test_accuracy_at_early_stop')):
    _dense_line(axes_, table, statistic)
    _panel(axes_, table[table['percent_remaining'] < 100.0], kinds, statistic)
  return _finish(figure, axes, path, f'{title}: learned masks vs winning tickets')


def _percent_table(table, kinds, columns):
  """Markdown rows: one per (kind, percent remaining), the given (statistic, header) columns."""
  lines = ['| run | % remaining | trials | ' + ' | '.join(h for _, h in columns) + ' |',
           '|---|---|---|' + '---|' * len(columns)]
  rows = table[table['kind'].isin(kinds)]
  for kind in kinds:
    for row in rows[rows['kind'] == kind].itertuples():
      cells = []
      for statistic, _ in columns:
        value = getattr(row, f'{statistic}_mean')
        cells.append('—' if pd.isna(value) else f'{100 * value:.2f}%')
      lines.append(f'| {summary_lib.kind_label(kind)} | {row.percent_remaining:g} | '
                   f'{row.trials} | {" | ".join(cells)} |')
  return lines


def criteria_section(table):
  """Lines of the 'Mask criteria' section, or [] if only one criterion was run."""
  kinds = criterion_kinds(table)
  if not kinds:
    return []
  return (['## Mask criteria', '',
           'How survivors were ranked for pruning (`--mask_criterion`; magnitude is the '
           'paper\'s). "At init": the masked network at its starting weights, before any '
           'training.', ''] +
          _percent_table(table, kinds, [('test_accuracy_at_early_stop', 'test acc. at early stop'),
                                        ('final_test_accuracy', 'final test acc.'),
                                        ('test_accuracy_at_init', 'test acc. at init')]) + [''])


def learned_masks_section(table):
  """Lines of the 'Learned masks' section, or [] if there are no edge-popup or biprop runs."""
  if not has_learned_masks(table):
    return []
  kinds = [kinds_lib.TICKET] + [k for k in LEARNED_KINDS if k in set(table['kind'])]
  return (['## Learned masks on frozen random weights', '',
           'Edge-popup and biprop train only a score per weight; the weights stay at their '
           'random initialisation (biprop: binary, α·sign(w)). Winning tickets for comparison.',
           ''] +
          _percent_table(table, kinds, [('final_test_accuracy', 'final test acc.'),
                                        ('test_accuracy_at_early_stop', 'test acc. at early stop'),
                                        ('test_accuracy_at_init', 'test acc. at init')]) + [''])


def figures_to_draw(table):
  """[(file name, caption, drawing function)] of this module's figures that apply to `table`."""
  drawn = []
  if criterion_kinds(table):
    drawn.append(CRITERIA_FIGURE + (criteria_figure,))
  if has_learned_masks(table):
    drawn.append(LEARNED_FIGURE + (learned_masks_figure,))
  return drawn
