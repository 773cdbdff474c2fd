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
  curves = {}
  for trial, rows in dense.groupby('trial'):
    if rows[early_bird.COLUMN].notna().any():
      curves[int(trial)] = rows[['iteration', early_bird.COLUMN]].reset_index(drop=True)
  return curves


def section(curves, epsilon=EPSILON):
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
  return lines + ['']


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
