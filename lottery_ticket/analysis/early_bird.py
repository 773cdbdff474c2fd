"""The early-bird view of the dense runs (You et al., ICLR 2020): how far the mask the next pruning
step would draw moves between evaluations (metrics.csv's mask_distance, foundations.early_bird),
as a figure and one line per trial saying where their rule first holds: the largest distance
over the last 5 evaluations below ε = 0.1. Drawn only for experiments whose dense runs recorded
the column (runs trained before it existed have none).
"""

import numpy as np

from foundations import early_bird
from lottery_ticket.analysis import figures
from lottery_ticket.protocols import kinds as kinds_lib

EPSILON = 0.1  # You et al.'s
FIGURE = ('figure_early_bird.png',
          'Early-bird: the fraction of weights whose next-pruning mask changed since the previous '
          'evaluation, in the dense network, vs iteration (dashed: ε = 0.1)')


def dense_distances(df):
  """{trial: DataFrame(iteration, mask_distance)} of the dense runs (lottery level 0) that
  recorded mask distances (df: load.load_experiment's)."""
  dense = df[(df['kind'] == kinds_lib.TICKET) & (df['level'] == 0)]
  if dense.empty:  # an early-bird experiment alone: its level-0 search
    dense = df[(df['kind'] == kinds_lib.EARLY_BIRD_SEARCH) & (df['level'] == 0)]
  curves = {}
  for trial, rows in dense.groupby('trial'):
    if rows[early_bird.COLUMN].notna().any():
      curves[int(trial)] = rows[['iteration', early_bird.COLUMN]].reset_index(drop=True)
  return curves


def _iterations_trained(df):
  """{run: iterations it trained} (its last evaluation minus its first)."""
  grouped = df.groupby('run')['iteration']
  return (grouped.max() - grouped.min()).to_dict()


def comparison_lines(df, runs):
  """The early-bird tickets against IMP's of the same level and trials (means over the trials
  that have early-bird tickets) and the iterations each way took in all; [] without them."""
  tickets = runs[runs['kind'] == kinds_lib.EARLY_BIRD_TICKET]
  if tickets.empty:
    return []
  trained = _iterations_trained(df)
  searches = runs[runs['kind'] == kinds_lib.EARLY_BIRD_SEARCH]
  imp = runs[(runs['kind'] == kinds_lib.TICKET) & runs['trial'].isin(set(tickets['trial']))]
  lines = ['| level | % remaining | IMP ticket | early-bird ticket | difference (points) | '
           'search stopped at |', '|---|---|---|---|---|---|']
  for level, rows in tickets.groupby('level'):
    eb = rows['test_accuracy_at_early_stop'].mean() * 100
    same = imp[imp['level'] == level]['test_accuracy_at_early_stop']
    search = searches[searches['level'] == level - 1]
    stopped = ', '.join(f'{trained[r]:,}' for r in search['run'])
    imp_text, gap = (f'{same.mean() * 100:.2f}%', f'{eb - same.mean() * 100:+.2f}') \
        if not same.empty else ('—', '—')
    lines.append(f'| {int(level)} | {rows["percent_remaining"].mean():.1f} | {imp_text} | '
                 f'{eb:.2f}% | {gap} | {stopped or "—"} |')
  early_bird_total = sum(trained[r] for r in list(searches['run']) + list(tickets['run']))
  levels = set(tickets['level'])
  imp_runs = imp[imp['level'].isin(levels | {0})]['run']
  imp_total = sum(trained[r] for r in imp_runs)
  lines += ['', f'Iterations in all: early-bird {early_bird_total:,} (its truncated searches '
            f'and one full training per ticket) vs IMP {imp_total:,} (levels 0-{max(levels)} '
            'at the full budget' + ('' if len(imp_runs) else '; none recorded') + ').', '']
  return lines


def section(curves, epsilon=EPSILON, comparison=()):
  """Lines of the 'Early-bird tickets' section, or [] without mask distances."""
  if not curves:
    return []
  lines = ['## Early-bird tickets', '',
           'At each evaluation of the dense network, the mask the next pruning step would draw '
           'from its weights then; the distance is the fraction of weights whose mask changed '
           f'since the previous evaluation. You et al.\'s rule: the ticket has emerged once the '
           f'largest distance over the last {early_bird.WINDOW} evaluations is below ε = '
           f'{epsilon:g}.', '']
  for trial, curve in curves.items():
    distances = curve[early_bird.COLUMN].to_numpy(np.float64)
    last = curve['iteration'].iloc[-1]
    index = early_bird.emerged(distances, epsilon)
    if index is None:
      lines.append(f'- Trial {trial}: not emerged within {last:,} iterations (last distance '
                   f'{distances[-1]:.4f}).')
    else:
      lines.append(f'- Trial {trial}: emerged at iteration {curve["iteration"].iloc[index]:,} '
                   f'of {last:,} (distance then {distances[index]:.4f}).')
  return lines + [''] + list(comparison)


def figure(curves, path, title, epsilon=EPSILON):
  """Mask distance vs iteration, one line per trial, log scale; returns `path`."""
  fig, (axes,) = figures.panels(1)
  for color, (trial, curve) in zip(figures.series_colors(len(curves)), curves.items()):
    shown = curve[curve[early_bird.COLUMN] > 0]
    axes.plot(shown['iteration'], shown[early_bird.COLUMN], color=color, linewidth=0.9,
              label=f'trial {trial}')
  axes.axhline(epsilon, color='black', linestyle='--', linewidth=0.8)
  axes.set_yscale('log')
  axes.set_xlabel('training iteration')
  axes.set_ylabel('mask distance to the previous evaluation')
  axes.set_title(f'{title}: early-bird mask distance', fontsize=9)
  axes.legend(fontsize=7)
  return figures.save(fig, path)
