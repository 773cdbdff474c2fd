"""The report's 'Sparse training' section and figures on a hand-made experiment.

Run directories are written by hand (summary.json, metrics.csv and mask_updates.csv as the
runners write them, with test_pai_report's writer: every run evaluated at 100, 200, 300, early
stop at 200): no TensorFlow, no training.
"""

import os

import pytest

from lottery_ticket.analysis import load
from lottery_ticket.analysis import report
from lottery_ticket.analysis import sparse_training
from lottery_ticket.analysis import summary
from tests.test_pai_report import PNG
from tests.test_pai_report import write_run

T = 300  # training iterations of every run: write_run's last evaluation
# Lottery levels of trials 1 and 2: (level, percent remaining, test accuracy at early stop).
LEVELS = ((0, 100.0, 0.90), (1, 51.3, 0.91), (2, 21.1, 0.89), (3, 8.9, 0.87))


def write_dst_run(root, trial, method, percent, accuracy, grown=None):
  """A sparse_training run of `method` (ERK); `grown`: the hidden layer's grown weights at the
  updates of iterations 100 and 200 (1,000 active; the dense output layer never moves)."""
  run_dir = os.path.join(root, f'trial{trial}', 'sparse_training', f'{method}_erk',
                         f'remaining{percent:g}')
  write_run(run_dir, trial, 'sparse_training', percent, accuracy, method=method,
            sparsity_distribution='erk', target_percent_remaining=percent, update_interval=100,
            drop_fraction=0.3, update_end=0.75,
            mask_update_iterations=[100, 200] if grown else [])
  if grown:
    with open(os.path.join(run_dir, 'mask_updates.csv'), 'w') as f:
      f.write('iteration,layer,active,dropped,grown,drop_fraction\n')
      for iteration, count, fraction in zip((100, 200), grown, (0.25, 0.05)):
        f.write(f'{iteration},hidden,1000,{count},{count},{fraction}\n'
                f'{iteration},output,100,0,0,{fraction}\n')


@pytest.fixture
def references(tmp_path):
  """Lottery levels 0-3 in trials 1 and 2."""
  root = str(tmp_path / 'experiment')
  for trial in (1, 2):
    for level, percent, accuracy in LEVELS:
      write_run(os.path.join(root, f'trial{trial}', f'level{level}', 'lottery'), trial,
                'lottery', percent, accuracy - 0.01 * (trial - 1), level=level)
  return root


@pytest.fixture
def experiment(references):
  root = references
  write_dst_run(root, 1, 'rigl', 51.2, 0.90, grown=(200, 50))
  write_dst_run(root, 1, 'rigl', 8.9, 0.86, grown=(200, 50))  # first update: 200 of 1,100
  write_dst_run(root, 2, 'rigl', 8.9, 0.84, grown=(300, 60))  # 300 of 1,100
  write_dst_run(root, 1, 'set', 8.9, 0.85, grown=(100, 20))  # 100 of 1,100
  write_dst_run(root, 1, 'static', 8.9, 0.83)
  write_run(os.path.join(root, 'trial1', 'sparse_training', 'rigl_erk_ticket', 'remaining8.9'),
            1, 'train', 8.9, 0.855, ticket_of='sparse_rigl_erk')
  write_run(os.path.join(root, 'trial1', 'tfmot_pruning', 'remaining8.9'), 1, 'tfmot_pruning',
            8.9, 0.865)
  return root


def _analysis(root):
  runs = summary.runs_table(load.load_experiment(root))
  return sparse_training.analyse(root, runs, summary.summarize(runs))


def test_section_rows_and_costs(experiment):
  analysis = _analysis(experiment)
  assert analysis.kinds == ('sparse_rigl_erk', 'sparse_rigl_erk_ticket', 'sparse_set_erk',
                            'sparse_static_erk')
  lines = sparse_training.section(analysis)
  assert lines[0] == '## Sparse training'
  rows = [line for line in lines if line.startswith('| ') and not line.startswith('| network')]
  # final accuracy: write_run's last evaluation, 1 point below the early stop's
  assert rows == [
      f'| RigL (erk) | 51.2 | 90.00% | 89.00% | 1 | {T} |',
      f'| RigL (erk) | 8.9 | 85.00% (84.00–86.00) | 84.00% | 2 | {T} |',
      f'| RigL mask retrained from θ0 (erk) | 8.9 | 85.50% | 84.50% | 1 | {2 * T} |',
      f'| SET (erk) | 8.9 | 85.00% | 84.00% | 1 | {T} |',
      f'| static sparse (erk) | 8.9 | 83.00% | 82.00% | 1 | {T} |',
      # the levels nearest 51.2% and 8.9%, not level 2 (21.1%); L + 1 trainings
      '| winning ticket (iterative pruning), level 1 | 51.3 | 90.50% (90.00–91.00) | 89.50% | '
      f'2 | {2 * T} |',
      '| winning ticket (iterative pruning), level 3 | 8.9 | 86.50% (86.00–87.00) | 85.50% | '
      f'2 | {4 * T:,} |',
      f'| tfmot gradual magnitude pruning | 8.9 | 86.50% | 85.50% | 1 | {T} |']


def test_mask_update_numbers(experiment):
  analysis = _analysis(experiment)
  statistics = {s[0]: s for s in sparse_training.update_statistics(analysis)}
  assert set(statistics) == {'sparse_rigl_erk', 'sparse_set_erk'}  # static: no updates
  kind, runs, first, moved, schedule, low, high, last, still = statistics['sparse_rigl_erk']
  assert (runs, first, low, high, last, still) == (3, 100, 2, 2, 200, ['output'])
  # per run 200/1100 (twice: 51.2% and 8.9%) and 300/1100, over the runs
  assert moved == pytest.approx((200 + 200 + 300) / 3 / 1100)
  assert schedule == pytest.approx(0.25)
  assert statistics['sparse_set_erk'][3] == pytest.approx(100 / 1100)
  lines = sparse_training.section(analysis)
  assert ('- SET (erk): the first update (iteration 100) moved 9.1% of all active weights '
          '(mean over 1 run; drop fraction f(t) of each layer then: 25.0%; never moved: '
          '`output`), 2 updates per run, the last at iteration 200.') in lines
  assert any(line.startswith('- RigL (erk): the first update (iteration 100) moved 21.2% ')
             for line in lines)


def test_report_has_the_section_and_both_figures(experiment, tmp_path):
  written = report.write_report(experiment, str(tmp_path / 'out'))
  text = open(written['report.md']).read()
  assert '## Sparse training' in text and '### Mask updates' in text
  for name, caption in (sparse_training.ACCURACY_FIGURE, sparse_training.UPDATES_FIGURE):
    with open(written[name], 'rb') as f:
      assert f.read(8) == PNG
    assert f'![{caption}]({name})' in text
  assert 'sparse_rigl_erk' not in text  # every kind by its label, the masks section's too
  table = open(written['summary.csv']).read()
  assert 'sparse_rigl_erk_ticket,8.9' in table


def test_no_sparse_runs_no_section_and_no_figures(references, tmp_path):
  analysis = _analysis(references)
  assert sparse_training.section(analysis) == []
  assert sparse_training.figures_to_draw(analysis) == []
  written = report.write_report(references, str(tmp_path / 'out'))
  text = open(written['report.md']).read()
  assert 'Sparse training' not in text and 'figure_sparse' not in text
  assert not any(name.startswith('figure_sparse') for name in os.listdir(tmp_path / 'out'))
