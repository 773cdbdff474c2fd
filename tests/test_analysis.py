"""Analysis of a real (small) experiment: the mnist_fc runners' outputs, loaded and reported."""

import json
import os
import shutil

import pandas as pd
import pytest

from lottery_ticket.analysis import early_bird
from lottery_ticket.analysis import load
from lottery_ticket.analysis import report
from lottery_ticket.analysis import summary
from tests import conftest

EXPECTED_RUNS = {
    'trial1/level0/lottery': 'lottery', 'trial1/level1/lottery': 'lottery',
    'trial1/level2/lottery': 'lottery', 'trial1/level1/reinit': 'reinit',
    'trial1/level2/reinit': 'reinit', 'trial1/one_shot/remaining20': 'one_shot',
}


@pytest.fixture(scope='module')
def experiment_dir(idx_dataset, tmp_path_factory):
  """Lottery levels 0-2, one-shot to 20% and random reinit of levels 1 and 2 in one directory."""
  output_dir = str(tmp_path_factory.mktemp('analysis'))
  flags = conftest.small_run_flags(idx_dataset, output_dir)
  for module, extra in (('mnist_fc.runners.lottery_experiment', '--levels=2'),
                        ('mnist_fc.runners.one_shot', '--percent_remaining=20'),
                        ('mnist_fc.runners.reinitialize', '--level=1,2')):
    process = conftest.run_module(module, extra, *flags)
    assert process.returncode == 0, process.stderr
  return output_dir


def _summary_json(experiment_dir, run):
  with open(os.path.join(experiment_dir, run, 'summary.json')) as f:
    return json.load(f)


def test_load_matches_metrics_files(experiment_dir):
  df = load.load_experiment(experiment_dir)
  assert list(df.columns) == list(load.COLUMNS)
  assert dict(df.groupby('run')['kind'].first()) == EXPECTED_RUNS
  assert df.attrs['skipped'] == [] and df.attrs['trials'] == [1]
  assert df.attrs['networks'] == ['lenet300_100'] and df.attrs['datasets'] == ['mnist']
  for run, rows in df.groupby('run'):
    metrics = pd.read_csv(os.path.join(experiment_dir, run, 'metrics.csv'))
    rows = rows.reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[list(metrics.columns)], metrics, check_dtype=False)
    summary_json = _summary_json(experiment_dir, run)
    assert set(rows['trial']) == {1}
    assert set(rows['percent_remaining']) == {summary_json['percent_remaining']}
    level = rows['level'].iloc[0]
    assert (pd.isna(level) if 'one_shot' in run else level == summary_json['level'])


def test_run_summaries_agree_with_summary_json(experiment_dir):
  runs = summary.runs_table(load.load_experiment(experiment_dir)).set_index('run')
  assert sorted(runs.index) == sorted(EXPECTED_RUNS)
  for run, row in runs.iterrows():
    expected = _summary_json(experiment_dir, run)
    assert row['early_stop_iteration'] == expected['early_stop_iteration']
    assert row['test_accuracy_at_early_stop'] == pytest.approx(
        expected['test_accuracy_at_early_stop'])
    assert row['final_test_accuracy'] == pytest.approx(expected['final_test_accuracy'])
    assert row['training_iterations'] == expected['training_iterations'] == 60


def test_summarize_one_trial(experiment_dir):
  table = summary.summarize(load.load_experiment(experiment_dir))
  keys = list(zip(table['kind'], table['percent_remaining']))
  assert keys == [('lottery', 100.0), ('lottery', 80.0), ('lottery', 64.1), ('one_shot', 20.0),
                  ('reinit', 80.0), ('reinit', 64.1)]
  assert set(table['trials']) == {1}
  for stat in summary.RUN_STATISTICS:
    assert (table[f'{stat}_min'] == table[f'{stat}_max']).all()
    assert table[f'{stat}_mean'].tolist() == pytest.approx(table[f'{stat}_min'].tolist())


def test_report_entry_point(experiment_dir, tmp_path):
  output_dir = str(tmp_path / 'report')
  process = conftest.run_module('lottery_ticket.analysis.report',
                                f'--experiment_dir={experiment_dir}', f'--output_dir={output_dir}')
  assert process.returncode == 0, process.stderr
  # the dense run recorded mask distances: the early-bird figure joins the usual files
  assert sorted(os.listdir(output_dir)) == sorted(report.OUTPUT_FILES + (
      early_bird.FIGURE[0],))
  for name in report.OUTPUT_FILES:
    assert os.path.getsize(os.path.join(output_dir, name)) > 0
  text = open(os.path.join(output_dir, 'report.md')).read()
  assert '# Lottery ticket report: LeNet-300-100 on MNIST' in text
  assert '- 80% remaining: ' in text and '- 64.1% remaining: ' in text
  assert '| random reinit | 64.1 | 1/1 |' in text
  assert 'winning ticket (one-shot pruning) at 20%: no winning ticket' in text
  assert 'Nothing skipped' in text
  assert '## Early-bird tickets' in text and '- Trial 1: ' in text
  runs = pd.read_csv(os.path.join(output_dir, 'runs.csv'))
  assert sorted(runs['run']) == sorted(EXPECTED_RUNS)


def test_run_in_progress_is_skipped(experiment_dir, tmp_path):
  copy = str(tmp_path / 'copy')
  shutil.copytree(experiment_dir, copy)
  os.makedirs(os.path.join(copy, 'trial1', 'level3', '.lottery.partial', 'tensorboard'))
  shutil.rmtree(os.path.join(copy, 'trial1', 'level1', 'lottery'))
  df = load.load_experiment(copy)
  assert df.attrs['skipped'] == [('trial1/level3/.lottery.partial', 'in progress')]
  assert 'trial1/level1/lottery' not in set(df['run'])
  written = report.write_report(copy, str(tmp_path / 'out'))
  text = open(written['report.md']).read()
  assert '- `trial1/level3/.lottery.partial`: in progress' in text
  assert '- trial1: lottery level 1 missing' in text
