"""Summaries, verdicts, figures and errors on a hand-made experiment directory with known minima."""

import json
import os

import numpy as np
import pytest

from lottery_ticket.analysis import coverage
from lottery_ticket.analysis import figures
from lottery_ticket.analysis import load
from lottery_ticket.analysis import report
from lottery_ticket.analysis import summary
from lottery_ticket.analysis import verdicts
from tests import conftest

ITERATIONS = (100, 200, 300, 400, 500)
# (trial, relative run directory, experiment, level, percent, validation losses, test accuracies)
RUNS = (
    (1, 'level0/lottery', 'lottery', 0, 100.0, (.5, .4, .3, .35, .4), (.8, .85, .90, .9, .91)),
    (2, 'level0/lottery', 'lottery', 0, 100.0, (.5, .3, .3, .4, .5), (.8, .92, .93, .9, .90)),
    (1, 'level1/lottery', 'lottery', 1, 80.0, (.4, .2, .3, .3, .3), (.8, .915, .9, .9, .9)),
    (2, 'level1/lottery', 'lottery', 1, 80.0, (.4, .2, .2, .3, .3), (.8, .915, .9, .9, .9)),
    (1, 'level2/lottery', 'lottery', 2, 64.0, (.1, .2, .3, .3, .3), (.905, .9, .9, .9, .9)),
    (2, 'level2/lottery', 'lottery', 2, 64.0, (.1, .2, .3, .3, .3), (.907, .9, .9, .9, .9)),
    (1, 'level2/reinit', 'reinit', 2, 64.0, (.5, .4, .3, .2, .3), (.8, .8, .8, .88, .87)),
    (2, 'level2/reinit', 'reinit', 2, 64.0, (.5, .4, .3, .3, .2), (.8, .8, .8, .8, .89)),
    (1, 'level1/random_prune', 'random_prune', 1, 80.0, (.5, .4, .3, .3, .2), (.8,) * 4 + (.85,)),
    (1, 'one_shot/remaining50', 'one_shot', None, 50.0, (.5, .4, .1, .3, .2), (.8, .8, .9, .8, .8)),
)


def write_run(run_dir, trial, experiment, level, percent, validation_losses, test_accuracies,
              accuracy_at_init=None, **more_details):
  """A run directory with metrics.csv and the summary.json the runners would write; with
  `accuracy_at_init`, metrics start with the untrained network's row (no training loss)."""
  os.makedirs(run_dir)
  count = len(ITERATIONS)
  columns = dict(iteration=ITERATIONS, train_loss=[0.1] * count, train_accuracy=[0.9] * count,
                 validation_loss=validation_losses, validation_accuracy=[0.9] * count,
                 test_loss=[0.3] * count, test_accuracy=test_accuracies)
  with open(os.path.join(run_dir, 'metrics.csv'), 'w') as f:
    f.write(','.join(columns) + '\n')
    if accuracy_at_init is not None:  # a low validation loss that early stopping must skip
      f.write(f'0,,,0.01,0.5,2.3,{accuracy_at_init}\n')
    for values in zip(*columns.values()):
      f.write(','.join(str(v) for v in values) + '\n')
  best = int(np.argmin(validation_losses))
  details = dict(experiment=experiment, trial=trial, network='lenet300_100', dataset='mnist',
                 percent_remaining=percent, early_stop_iteration=ITERATIONS[best],
                 test_accuracy_at_early_stop=test_accuracies[best],
                 final_test_accuracy=test_accuracies[-1], training_iterations=ITERATIONS[-1])
  if level is not None:
    details['level'] = level
  if experiment == 'reinit':
    details['reinit_mode'] = 'glorot'
  details.update(more_details)
  with open(os.path.join(run_dir, 'summary.json'), 'w') as f:
    json.dump(details, f)


@pytest.fixture
def hand_made(tmp_path):
  root = str(tmp_path / 'experiment')
  for trial, relative, *fields in RUNS:
    write_run(os.path.join(root, f'trial{trial}', relative), trial, *fields)
  return root


def _row(table, kind, percent):
  rows = table[(table['kind'] == kind) & (table['percent_remaining'] == percent)]
  assert len(rows) == 1
  return rows.iloc[0]


def test_runs_table_early_stop_earliest_on_ties(hand_made):
  runs = summary.runs_table(load.load_experiment(hand_made)).set_index('run')
  assert runs.loc['trial1/level0/lottery', 'early_stop_iteration'] == 300
  assert runs.loc['trial2/level0/lottery', 'early_stop_iteration'] == 200  # tie at 200 and 300
  assert runs.loc['trial2/level0/lottery', 'test_accuracy_at_early_stop'] == pytest.approx(.92)
  assert runs.loc['trial2/level1/lottery', 'early_stop_iteration'] == 200  # tie at 200 and 300
  assert runs.loc['trial1/one_shot/remaining50', 'kind'] == 'one_shot'
  assert list(runs['training_iterations'].unique()) == [500]


def test_summarize_over_two_trials(hand_made):
  table = summary.summarize(load.load_experiment(hand_made))
  dense = _row(table, 'lottery', 100.0)
  assert (dense['trials'], dense['level']) == (2, 0)
  assert (dense['early_stop_iteration_mean'], dense['early_stop_iteration_min'],
          dense['early_stop_iteration_max']) == (250, 200, 300)
  assert dense['test_accuracy_at_early_stop_mean'] == pytest.approx(.91)
  assert dense['test_accuracy_at_early_stop_min'] == pytest.approx(.90)
  assert dense['test_accuracy_at_early_stop_max'] == pytest.approx(.92)
  assert dense['final_test_accuracy_mean'] == pytest.approx(.905)
  reinit = _row(table, 'reinit', 64.0)
  assert reinit['early_stop_iteration_mean'] == 450
  assert reinit['test_accuracy_at_early_stop_mean'] == pytest.approx(.885)
  assert _row(table, 'random_prune', 80.0)['trials'] == 1
  assert list(table['kind'].unique()) == ['lottery', 'one_shot', 'reinit', 'random_prune']


def test_verdicts(hand_made):
  table = summary.summarize(load.load_experiment(hand_made))
  comparison = verdicts.dense_comparison(table, tolerance_points=0.2).set_index('percent_remaining')
  assert comparison.loc[80.0, 'accuracy_difference_points'] == pytest.approx(0.5)
  assert comparison.loc[80.0, 'early_stop_change_percent'] == pytest.approx(-20)
  assert comparison['matches'].to_dict() == {80.0: True, 64.0: False}
  assert verdicts.smallest_winning_ticket(comparison.reset_index())['percent_remaining'] == 80
  loose = verdicts.dense_comparison(table, tolerance_points=0.4)  # -0.4 points is within 0.4
  assert verdicts.smallest_winning_ticket(loose)['percent_remaining'] == 64
  controls = verdicts.control_comparison(table).set_index('kind')
  assert controls.loc['reinit', 'accuracy_difference_points'] == pytest.approx(2.1)
  assert controls.loc['reinit', 'early_stop_difference_iterations'] == -350
  assert controls.loc['random_prune', 'accuracy_difference_points'] == pytest.approx(6.5)
  assert verdicts.unmatched_controls(table) == [('one_shot', 50.0)]


def test_report_files_and_verdict_lines(hand_made, tmp_path):
  written = report.write_report(hand_made, str(tmp_path / 'out'))
  for name in report.OUTPUT_FILES:
    assert os.path.getsize(written[name]) > 0
  for name in ('figure1.png', 'figure3.png', 'figure4.png'):
    with open(written[name], 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  text = open(written['report.md']).read()
  assert ('- 80% remaining: matches the dense network (91.50% vs 91.00%, +0.50 points); '
          'early stop 20.0% earlier (200 vs 250 iterations).') in text
  assert ('- 64% remaining: does not match the dense network (90.60% vs 91.00%, -0.40 points); '
          'early stop 60.0% earlier (100 vs 250 iterations).') in text
  assert 'Smallest winning ticket: 80% remaining (level 1, 91.50% at early stop' in text
  assert '| random reinit | 64 | 2/2 | +2.10 | -350 | ' in text
  for name in ('figure1.png', 'figure3.png', 'figure4.png'):
    assert f']({name})' in text
  assert '## Mask criteria' not in text and 'figure_criteria.png' not in written  # one criterion


def test_mask_criteria_and_learned_masks_are_compared(hand_made, tmp_path):
  trial1 = os.path.join(hand_made, 'trial1')
  write_run(os.path.join(trial1, 'level1', 'lottery_movement'), 1, 'lottery', 1, 80.0,
            (.4, .3, .2, .3, .3), (.8, .85, .89, .9, .9), accuracy_at_init=0.42,
            mask_criterion='movement')
  write_run(os.path.join(trial1, 'one_shot_random', 'remaining50'), 1, 'one_shot', None, 50.0,
            (.5,) * 5, (.7,) * 5, accuracy_at_init=0.1, mask_criterion='random')
  write_run(os.path.join(trial1, 'edge_popup', 'remaining50'), 1, 'supermask', None, 50.0,
            (.5, .4, .3, .2, .1), (.6, .7, .8, .85, .88), accuracy_at_init=0.3)
  runs = summary.runs_table(load.load_experiment(hand_made)).set_index('run')
  movement = runs.loc['trial1/level1/lottery_movement']
  assert movement['kind'] == 'lottery_movement'
  assert movement['early_stop_iteration'] == 300  # not iteration 0, the untrained row
  assert movement['test_accuracy_at_init'] == pytest.approx(0.42)
  assert np.isnan(runs.loc['trial1/level1/lottery', 'test_accuracy_at_init'])  # no such row
  assert runs.loc['trial1/one_shot_random/remaining50', 'kind'] == 'one_shot_random'
  assert runs.loc['trial1/edge_popup/remaining50', 'kind'] == 'edge_popup'
  written = report.write_report(hand_made, str(tmp_path / 'out'))
  text = open(written['report.md']).read()
  assert '| iterative pruning, movement | 80 | 1 | 89.00% | 90.00% | 42.00% |' in text
  assert '| one-shot pruning, random | 50 | 1 | 70.00% | 70.00% | 10.00% |' in text
  assert ('| mask learned on frozen weights (edge-popup) | 50 | 1 | 88.00% | 88.00% | '
          '30.00% |') in text
  for name in ('figure_criteria.png', 'figure_learned_masks.png'):
    assert f']({name})' in text and os.path.getsize(written[name]) > 0


def test_partial_unreadable_and_missing_runs_are_reported(hand_made, tmp_path):
  os.rename(os.path.join(hand_made, 'trial2', 'level2', 'lottery'),
            os.path.join(hand_made, 'trial2', 'level2', '.lottery.partial'))
  os.makedirs(os.path.join(hand_made, 'trial3', 'level0', '.lottery.partial'))
  write_run(os.path.join(hand_made, 'trial1', 'level3', 'lottery'), 1, 'lottery', 3, 51.2,
            (.3,) * 5, (.9,) * 5)
  with open(os.path.join(hand_made, 'trial1', 'level3', 'lottery', 'metrics.csv'), 'w') as f:
    f.write('iteration,test_accuracy\n100,0.9\n')  # columns missing: unreadable
  os.makedirs(os.path.join(hand_made, 'trial1', 'level4', 'lottery'))  # no summary.json
  diverged = os.path.join(hand_made, 'trial2', 'level1', 'random_prune')
  write_run(diverged, 2, 'random_prune', 1, 80.0, (.5,) * 5, (.1,) * 5)
  with open(os.path.join(diverged, 'summary.json'), 'w') as f:
    json.dump(dict(experiment='random_prune', trial=2, level=1, percent_remaining=80.0,
                   status='diverged', error='loss is NaN at iteration 300'), f)
  df = load.load_experiment(hand_made)
  skipped = dict(df.attrs['skipped'])
  assert skipped['trial2/level2/.lottery.partial'] == 'in progress'
  assert skipped['trial3/level0/.lottery.partial'] == 'in progress'
  assert skipped['trial1/level3/lottery'].startswith('unreadable: metrics.csv lacks columns')
  assert skipped['trial1/level4/lottery'] == 'incomplete: no summary.json'
  assert skipped['trial2/level1/random_prune'] == 'diverged: loss is NaN at iteration 300'
  missing = coverage.missing_runs(summary.runs_table(df))
  assert ('trial2', 'lottery level 2 missing') in missing
  assert ('trial2', 'random_prune level 1 missing') in missing
  assert ('trial3', 'lottery levels 0-2 missing') in missing
  assert ('trial2', 'one_shot at 50% remaining missing') in missing
  text = open(report.write_report(hand_made, str(tmp_path / 'out'))['report.md']).read()
  assert '- `trial2/level2/.lottery.partial`: in progress' in text
  assert '- trial3: lottery levels 0-2 missing' in text
  assert '- 64% remaining (1 trial): does not match' in text  # trial1's run alone


def test_figures_skip_absent_kinds(hand_made, tmp_path):
  df = load.load_experiment(hand_made)
  lottery_only = df[df['kind'] == 'lottery']
  table = summary.summarize(lottery_only)
  title = figures.experiment_title(df.attrs)
  assert title == 'LeNet-300-100 on MNIST'
  for draw, data in ((figures.figure1, table), (figures.figure4, table),
                     (figures.figure3, lottery_only)):
    path = str(tmp_path / f'{draw.__name__}.png')
    assert draw(data, path, title) == path and os.path.getsize(path) > 0


def test_nearest_percents_and_ranges():
  available = [100.0, 80.0, 64.1, 51.3, 41.1, 21.1]
  assert summary.nearest_percents(available, figures.DEFAULT_CURVE_PERCENTS) == [100.0, 51.3,
                                                                                 21.1]
  assert coverage._ranges([0, 3, 4, 5, 7]) == '0, 3-5, 7'  # pylint: disable=protected-access


def _report_error(tmp_path, experiment_dir):
  output_dir = str(tmp_path / 'out')
  process = conftest.run_module('lottery_ticket.analysis.report',
                                f'--experiment_dir={experiment_dir}', f'--output_dir={output_dir}')
  assert process.returncode == 2
  assert 'Traceback' not in process.stderr
  lines = process.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: --experiment_dir='), process.stderr
  assert not os.path.exists(output_dir)
  return lines[0]


def test_empty_missing_and_foreign_directories_fail_with_one_line(tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  assert 'no trial*/ run directories' in _report_error(tmp_path, str(empty))
  assert 'no such directory' in _report_error(tmp_path, str(tmp_path / 'nowhere'))
  assert 'no trial*/ run directories' in _report_error(tmp_path, conftest.REPO_ROOT)
  only_partial = tmp_path / 'running'
  (only_partial / 'trial1' / 'level0' / '.lottery.partial').mkdir(parents=True)
  assert 'no complete runs yet' in _report_error(tmp_path, str(only_partial))
