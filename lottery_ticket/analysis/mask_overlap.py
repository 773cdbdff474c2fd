"""How much two masks share: IoU, normalised Hamming distance and the IoU of chance, per layer.

For masks A and B of one layer (0/1 arrays of one shape), IoU = |A∩B| / |A∪B| and the
normalised Hamming distance is the fraction of positions where they differ. Two independent
random masks of densities a and b share on average n·a·b positions out of n·(a + b − a·b), so
the IoU of chance is a·b / (a + b − a·b) (d / (2 − d) for equal densities d; DESIGN.md §16).
Overall values pool the layers' counts. Masks are read lazily, as booleans, and only a few are
held at a time, so an experiment of hundreds of runs stays within a few hundred MB.

The pairs compared (`pairs`):
  trials: the same kind of run at the same percent remaining in two trials (different θ0);
  levels: consecutive levels L and L+1 of the same kind of run in one trial;
  kinds: two kinds of run (criteria, one-shot vs iterative, controls, ...) at the same percent
    remaining in one trial.
"""

import collections
import functools
import itertools
import os

import numpy as np
import pandas as pd

from foundations import paths
from foundations import save_restore
from lottery_ticket.analysis import summary as summary_lib

COMPARISONS = ('trials', 'levels', 'kinds')
ALL_LAYERS = 'all'
COLUMNS = ('comparison', 'kind_a', 'kind_b', 'trial_a', 'trial_b', 'level_a', 'level_b',
           'percent_remaining_a', 'percent_remaining_b', 'layer', 'density_a', 'density_b',
           'intersection', 'union', 'positions', 'iou', 'hamming', 'chance_iou', 'run_a',
           'run_b')
CACHED_MASKS = 8  # masks held in memory at once


def chance_iou(density_a, density_b):
  """The IoU two independent random masks of these densities have on average."""
  union = density_a + density_b - density_a * density_b
  return np.where(union > 0, density_a * density_b / np.where(union > 0, union, 1), 1.0)


def layer_counts(mask_a, mask_b):
  """(|A∩B|, |A∪B|, |A|, |B|, positions) of two boolean masks of one layer."""
  if mask_a.shape != mask_b.shape:
    raise ValueError(f'masks of shapes {mask_a.shape} and {mask_b.shape}')
  return (int(np.count_nonzero(mask_a & mask_b)), int(np.count_nonzero(mask_a | mask_b)),
          int(np.count_nonzero(mask_a)), int(np.count_nonzero(mask_b)), int(mask_a.size))


def overlap_rows(masks_a, masks_b):
  """[{layer, density_a, density_b, intersection, union, positions, iou, hamming,
  chance_iou}] per layer the two masks share, then ALL_LAYERS pooling them."""
  counts = {name: layer_counts(masks_a[name], masks_b[name])
            for name in sorted(masks_a) if name in masks_b}
  rows = []
  for name, (inter, union, size_a, size_b, positions) in counts.items():
    rows.append(_row(name, inter, union, size_a, size_b, positions,
                     float(chance_iou(size_a / positions, size_b / positions))))
  if counts:
    totals = np.array(list(counts.values()), dtype=np.float64)
    inter, union, size_a, size_b, positions = totals.sum(axis=0)
    # Chance pools the layers' expected counts (each layer has its own densities).
    density_a, density_b = totals[:, 2] / totals[:, 4], totals[:, 3] / totals[:, 4]
    expected_inter = np.sum(totals[:, 4] * density_a * density_b)
    expected_union = np.sum(totals[:, 4] * (density_a + density_b - density_a * density_b))
    chance = expected_inter / expected_union if expected_union else 1.0
    rows.append(_row(ALL_LAYERS, inter, union, size_a, size_b, positions, chance))
  return rows


def _row(layer, inter, union, size_a, size_b, positions, chance):
  return dict(layer=layer, density_a=size_a / positions, density_b=size_b / positions,
              intersection=int(inter), union=int(union), positions=int(positions),
              iou=inter / union if union else 1.0,
              hamming=(union - inter) / positions, chance_iou=float(chance))


class MaskReader:
  """masks.npz of run directories under one experiment, as booleans, a few cached."""

  def __init__(self, experiment_dir, cached=CACHED_MASKS):
    self.experiment_dir = experiment_dir
    self.read = functools.lru_cache(maxsize=cached)(self._read)

  def _read(self, run):
    arrays = save_restore.load_arrays(os.path.join(self.experiment_dir, run, paths.MASKS))
    return {name: np.asarray(mask) != 0 for name, mask in arrays.items()}


def mask_runs(df, experiment_dir):
  """One row per run of `df` (analysis.load's table) that has a masks.npz: run, trial, level,
  kind, percent_remaining and percent (rounded as the summaries round it)."""
  runs = df.drop_duplicates('run')[['run', 'trial', 'level', 'kind', 'percent_remaining']]
  runs = runs.assign(percent=runs['percent_remaining'].round(summary_lib.PERCENT_DECIMALS))
  has_masks = [os.path.isfile(os.path.join(experiment_dir, run, paths.MASKS))
               for run in runs['run']]
  return runs[has_masks].reset_index(drop=True)


def pairs(runs):
  """(comparison, run a, run b) of every pair compared (see the module doc), as row dicts."""
  records = runs.to_dict('records')
  by_kind_percent = collections.defaultdict(list)
  by_trial_percent = collections.defaultdict(list)
  by_trial_kind = collections.defaultdict(list)
  for run in records:
    by_kind_percent[run['kind'], run['percent']].append(run)
    by_trial_percent[run['trial'], run['percent']].append(run)
    if not pd.isna(run['level']):
      by_trial_kind[run['trial'], run['kind']].append(run)
  found = []
  for group in by_kind_percent.values():
    found += [('trials', a, b) for a, b in itertools.combinations(
        sorted(group, key=lambda r: r['trial']), 2) if a['trial'] != b['trial']]
  for group in by_trial_kind.values():
    ordered = sorted(group, key=lambda r: r['level'])
    found += [('levels', a, b) for a, b in zip(ordered, ordered[1:])
              if b['level'] == a['level'] + 1]
  for group in by_trial_percent.values():
    order = summary_lib.kind_order([run['kind'] for run in group])
    ordered = sorted(group, key=lambda run: order.index(run['kind']))
    found += [('kinds', a, b) for a, b in itertools.combinations(ordered, 2)
              if a['kind'] != b['kind']]
  return found


def overlap_table(experiment_dir, runs):
  """Every pair's rows (COLUMNS): per layer and ALL_LAYERS."""
  reader = MaskReader(experiment_dir)
  rows = []
  for comparison, a, b in pairs(runs):
    if a['percent'] == b['percent'] == 100.0:
      continue  # two dense masks: nothing to compare
    identity = dict(comparison=comparison, kind_a=a['kind'], kind_b=b['kind'],
                    trial_a=a['trial'], trial_b=b['trial'], level_a=a['level'],
                    level_b=b['level'], percent_remaining_a=a['percent_remaining'],
                    percent_remaining_b=b['percent_remaining'], run_a=a['run'], run_b=b['run'])
    rows += [dict(identity, **row) for row in overlap_rows(reader.read(a['run']),
                                                            reader.read(b['run']))]
  table = pd.DataFrame(rows, columns=list(COLUMNS))
  for column in ('level_a', 'level_b'):
    table[column] = table[column].astype('Int64')
  return table
