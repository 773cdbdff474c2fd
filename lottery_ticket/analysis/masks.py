"""What the masks of an experiment share: across trials, consecutive levels and kinds of run.

  python -m lottery_ticket.analysis.masks --experiment_dir=DIR --output_dir=OUT

writes mask_overlap.csv (every pair of masks compared, per layer and overall: IoU, normalised
Hamming distance and the IoU of chance; analysis.mask_overlap), a heatmap per comparison found
(figure_mask_overlap_{trials,levels,kinds}.png) and mask_overlap.md, whose section the report
includes too. No TensorFlow; masks are read lazily.
"""

import os

from absl import app
from absl import flags
import numpy as np

from foundations import console
from foundations import errors
from foundations import save_restore
from lottery_ticket.analysis import figures
from lottery_ticket.analysis import load
from lottery_ticket.analysis import mask_overlap
from lottery_ticket.analysis import summary as summary_lib

FLAGS = flags.FLAGS
CSV = 'mask_overlap.csv'
MARKDOWN = 'mask_overlap.md'
CAPTIONS = {
    'trials': 'IoU of the masks of two trials (different θ0) at equal percent remaining, mean '
              'over trial pairs, chance in brackets',
    'levels': 'IoU of the masks of consecutive levels, per layer, mean over trials',
    'kinds': 'IoU of two kinds of run at equal percent remaining in one trial, mean over '
             'trials, chance in brackets',
}


def figure_name(comparison):
  return f'figure_mask_overlap_{comparison}.png'


def _overall(table, comparison):
  return table[(table['comparison'] == comparison) & (table['layer'] == mask_overlap.ALL_LAYERS)]


def _matrix(rows, row_key, column_key):
  """(row labels, column labels, mean IoU, mean chance) of `rows` grouped by two keys."""
  rows = rows.assign(**{column_key: rows[column_key].round(summary_lib.PERCENT_DECIMALS)})
  grouped = rows.groupby([row_key, column_key], sort=False)[['iou', 'chance_iou']].mean()
  row_labels = list(dict.fromkeys(grouped.index.get_level_values(0)))
  column_labels = sorted(set(grouped.index.get_level_values(1)), reverse=True)
  iou = np.full((len(row_labels), len(column_labels)), np.nan)
  chance = iou.copy()
  for (row, column), values in grouped.iterrows():
    iou[row_labels.index(row), column_labels.index(column)] = values['iou']
    chance[row_labels.index(row), column_labels.index(column)] = values['chance_iou']
  return row_labels, column_labels, iou, chance


def _heatmap(matrix, path, title, xlabel, with_chance):
  row_labels, column_labels, iou, chance = matrix
  figure, (axes,) = figures.panels(1, height_inches=1.2 + 0.45 * len(row_labels))
  figure.set_figwidth(max(5.0, 1.2 + 0.75 * len(column_labels)))
  image = axes.imshow(iou, vmin=0, vmax=1, cmap='viridis', aspect='auto')
  axes.set_xticks(range(len(column_labels)), [f'{c:g}' for c in column_labels])
  axes.set_yticks(range(len(row_labels)), row_labels)
  axes.set_xlabel(xlabel)
  for (i, j), value in np.ndenumerate(iou):
    if not np.isnan(value):
      text = f'{value:.2f}' + (f'\n({chance[i, j]:.2f})' if with_chance else '')
      axes.text(j, i, text, ha='center', va='center', fontsize=7,
                color='black' if value > 0.6 else 'white')
  figure.colorbar(image, ax=axes, label='IoU')
  figure.suptitle(title, fontsize=9)
  return figures.save(figure, path)


def _pair_label(row):
  return f'{summary_lib.kind_label(row["kind_a"])} vs {summary_lib.kind_label(row["kind_b"])}'


def draw(table, output_dir, title):
  """The heatmaps of the comparisons `table` holds; {file name: path}."""
  drawn = {}
  trials = _overall(table, 'trials').assign(
      label=lambda t: t['kind_a'].map(summary_lib.kind_label))
  if not trials.empty:
    drawn['trials'] = _heatmap(_matrix(trials, 'label', 'percent_remaining_a'),
                               os.path.join(output_dir, figure_name('trials')),
                               f'{title}: masks across trials', 'percent of weights remaining',
                               True)
  levels = table[table['comparison'] == 'levels']
  if not levels.empty:
    first_kind = summary_lib.kind_order(levels['kind_a'])[0]
    levels = levels[levels['kind_a'] == first_kind].assign(
        transition=lambda t: t['percent_remaining_b'])
    drawn['levels'] = _heatmap(_matrix(levels, 'layer', 'transition'),
                               os.path.join(output_dir, figure_name('levels')),
                               f'{title}: {summary_lib.kind_label(first_kind)}, level L vs L-1',
                               'percent of weights remaining at level L', False)
  kinds = _overall(table, 'kinds')
  if not kinds.empty:
    kinds = kinds.assign(label=kinds.apply(_pair_label, axis=1))
    drawn['kinds'] = _heatmap(_matrix(kinds, 'label', 'percent_remaining_a'),
                              os.path.join(output_dir, figure_name('kinds')),
                              f'{title}: masks of different kinds of run',
                              'percent of weights remaining', True)
  return {figure_name(comparison): path for comparison, path in drawn.items()}


def section(table, experiment_dir=None):
  """The lines on the masks (none if no pair was compared); with `experiment_dir` (the report),
  they end with the command that writes the per-layer table and heatmaps."""
  if table.empty:
    return []
  where = (f'`python -m lottery_ticket.analysis.masks --experiment_dir={experiment_dir} '
           '--output_dir=DIR` writes them per layer, with heatmaps' if experiment_dir else
           f'Per layer in `{CSV}`')
  lines = ['## What the masks share', '',
           'IoU = shared kept weights / weights kept in either mask (1: the same mask); chance: '
           f'the IoU of two random masks of the same densities. {where}.', '']
  trials = _overall(table, 'trials')
  for kind, rows in trials.groupby('kind_a', sort=False):
    lines.append(f'- Across trials, {summary_lib.kind_label(kind)} (chance in brackets): '
                 f'{_by_percent(rows)}.')
  levels = _overall(table, 'levels')
  for kind, rows in levels.groupby('kind_a', sort=False):
    nested = bool(np.all(rows['intersection'] == np.rint(rows['density_b'] * rows['positions'])))
    lines.append(f'- Consecutive levels, {summary_lib.kind_label(kind)}: IoU {rows.iou.mean():.2f} '
                 f'on average (min {rows.iou.min():.2f}, max {rows.iou.max():.2f})'
                 + ('; every level keeps a subset of the previous level\'s mask, so the IoU is '
                    'the fraction it keeps.' if nested else '.'))
  kinds = _overall(table, 'kinds')
  for (kind_a, kind_b), rows in kinds.groupby(['kind_a', 'kind_b'], sort=False):
    lines.append(f'- {summary_lib.kind_label(kind_a)} vs {summary_lib.kind_label(kind_b)}: '
                 f'{_by_percent(rows)}.')
  return lines + ['']


def _by_percent(rows):
  """'51.3% 0.35 (0.35), 21.1% ...': mean IoU (chance) per percent remaining, largest first."""
  means = rows.groupby(rows['percent_remaining_a'].round(summary_lib.PERCENT_DECIMALS))[
      ['iou', 'chance_iou']].mean()
  return ', '.join(f'{p:g}% {r.iou:.2f} ({r.chance_iou:.2f})'
                   for p, r in means.sort_index(ascending=False).iterrows())


def analyse(experiment_dir, df=None):
  """The overlap table of `experiment_dir` (df: its analysis.load table, if already loaded)."""
  df = load.load_experiment(experiment_dir) if df is None else df
  return mask_overlap.overlap_table(experiment_dir, mask_overlap.mask_runs(df, experiment_dir))


def write(experiment_dir, output_dir, df=None):
  """Writes CSV, the heatmaps and MARKDOWN into output_dir; returns ({name: path}, lines)."""
  df = load.load_experiment(experiment_dir) if df is None else df
  table = analyse(experiment_dir, df)
  os.makedirs(output_dir, exist_ok=True)
  written = {CSV: os.path.join(output_dir, CSV), MARKDOWN: os.path.join(output_dir, MARKDOWN)}
  save_restore.save_csv(written[CSV], table)
  written.update(draw(table, output_dir, figures.experiment_title(df.attrs)))
  lines = section(table)
  save_restore.save_text(written[MARKDOWN], '\n'.join(lines) + '\n')
  return written, lines


def main(argv):
  errors.check_command_line(argv, ('experiment_dir', 'output_dir'))
  try:
    df = load.load_experiment(FLAGS.experiment_dir)
    if mask_overlap.mask_runs(df, FLAGS.experiment_dir).empty:
      raise errors.UserInputError(f'{FLAGS.experiment_dir}: no run has a masks.npz')
    written, _ = write(FLAGS.experiment_dir, FLAGS.output_dir, df)
  except errors.UserInputError as e:
    message = str(e)
    errors.exit_with_error(f'--experiment_dir={message}'
                           if message.startswith(FLAGS.experiment_dir) else message)
  except OSError as e:
    errors.exit_with_error(errors.os_error_message(e, 'output_dir', FLAGS.output_dir))
  print(f'masks: {written[CSV]}', flush=True)


if __name__ == '__main__':
  flags.DEFINE_string('experiment_dir', None, 'The --output_dir of the experiment to analyse.')
  flags.DEFINE_string('output_dir', None, 'Directory for mask_overlap.csv, figures and .md.')
  app.run(main, flags_parser=console.parse_flags())
