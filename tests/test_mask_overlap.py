"""Mask overlap: IoU, Hamming and chance by hand, the pairs an experiment compares, the outputs."""

import os

import numpy as np
import pandas as pd

from foundations import save_restore
from lottery_ticket.analysis import mask_overlap
from lottery_ticket.analysis import masks
from lottery_ticket.analysis import report
from tests import test_analysis_report


def test_iou_hamming_and_pooling_by_hand():
  a = {'hidden': np.array([[1, 1, 0, 0]], bool), 'output': np.array([1, 0], bool)}
  b = {'hidden': np.array([[1, 0, 1, 0]], bool), 'output': np.array([1, 0], bool)}
  hidden, output, pooled = mask_overlap.overlap_rows(a, b)
  assert (hidden['layer'], hidden['intersection'], hidden['union']) == ('hidden', 1, 3)
  assert hidden['iou'] == 1 / 3 and hidden['hamming'] == 2 / 4
  assert output['iou'] == 1.0 and output['hamming'] == 0.0
  assert pooled['layer'] == 'all' and pooled['iou'] == 2 / 4 and pooled['hamming'] == 2 / 6
  # chance a·b / (a + b - a·b) per layer; pooled over the layers' expected counts
  assert np.isclose(hidden['chance_iou'], 0.25 / 0.75)
  assert np.isclose(pooled['chance_iou'], (4 * 0.25 + 2 * 0.25) / (4 * 0.75 + 2 * 0.75))


def test_chance_iou_matches_a_simulation():
  rng = np.random.default_rng(0)
  for density_a, density_b in ((0.5, 0.5), (0.3, 0.05), (0.8, 0.2)):
    simulated = []
    for _ in range(20):
      a, b = rng.random(50_000) < density_a, rng.random(50_000) < density_b
      simulated.append(np.count_nonzero(a & b) / np.count_nonzero(a | b))
    assert abs(np.mean(simulated) - mask_overlap.chance_iou(density_a, density_b)) < 2e-3
  assert np.isclose(mask_overlap.chance_iou(0.2, 0.2), 0.2 / (2 - 0.2))  # d / (2 - d)


def _runs(rows):
  return pd.DataFrame(rows, columns=['run', 'trial', 'level', 'kind', 'percent'])


def test_pairs_across_trials_levels_and_kinds():
  runs = _runs([('t1/l0', 1, 0, 'lottery', 100.0), ('t1/l1', 1, 1, 'lottery', 80.0),
                ('t1/l2', 1, 2, 'lottery', 64.1), ('t2/l1', 2, 1, 'lottery', 80.0),
                ('t1/r1', 1, 1, 'random_prune', 80.0), ('t1/os', 1, pd.NA, 'one_shot', 80.0)])
  found = sorted((c, a['run'], b['run']) for c, a, b in mask_overlap.pairs(runs))
  assert found == [('kinds', 't1/l1', 't1/os'), ('kinds', 't1/l1', 't1/r1'),
                   ('kinds', 't1/os', 't1/r1'),
                   ('levels', 't1/l0', 't1/l1'), ('levels', 't1/l1', 't1/l2'),
                   ('trials', 't1/l1', 't2/l1')]


def _experiment(directory):
  """Lottery levels 0-1 of two trials and a random pruning of level 1, with masks."""
  rng = np.random.default_rng(1)
  dense = {'hidden': np.ones((20, 10), np.float32), 'output': np.ones((10, 2), np.float32)}
  for trial in (1, 2):
    level1 = {name: (rng.permutation(m.size) < m.size // 2).reshape(m.shape).astype(np.float32)
              for name, m in dense.items()}  # exactly half of each layer
    for relative, kind, level, mask in (('level0/lottery', 'lottery', 0, dense),
                                        ('level1/lottery', 'lottery', 1, level1),
                                        ('level1/random_prune', 'random_prune', 1, level1)):
      run_dir = os.path.join(directory, f'trial{trial}', relative)
      percent = float(100.0 * sum(m.sum() for m in mask.values()) / 220)
      test_analysis_report.write_run(run_dir, trial, kind, level, percent, (.5, .4, .3, .3, .3),
                                     (.8, .85, .9, .9, .9))
      save_restore.save_arrays(os.path.join(run_dir, 'masks.npz'), mask)
  return directory


def test_outputs_and_the_report_section(tmp_path):
  experiment = _experiment(str(tmp_path / 'experiment'))
  written, lines = masks.write(experiment, str(tmp_path / 'masks'))
  table = pd.read_csv(written[masks.CSV])
  assert set(table['comparison']) == {'trials', 'levels', 'kinds'}
  assert set(written) == {masks.CSV, masks.MARKDOWN} | {
      masks.figure_name(c) for c in mask_overlap.COMPARISONS}
  same = table[(table['comparison'] == 'kinds') & (table['layer'] == 'all')]
  assert (same['iou'] == 1.0).all()  # the random pruning here reuses the ticket's mask
  assert any(line.startswith('- Across trials, winning ticket') for line in lines)
  assert any('every level keeps a subset' in line for line in lines)
  reported = report.write_report(experiment, str(tmp_path / 'report'))
  assert sorted(reported) == sorted(report.OUTPUT_FILES)  # the report's files stay its own
  with open(reported['report.md']) as f:
    text = f.read()
  assert '## What the masks share' in text and lines[4] in text  # the same lines
  assert f'python -m lottery_ticket.analysis.masks --experiment_dir={experiment}' in text
