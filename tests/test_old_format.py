"""An experiment directory written by an earlier version of the code (the fixture) still resumes,
extends and analyses: the on-disk keys are a promise, whatever the code's names become."""

import os
import tarfile

import pandas as pd

from lottery_ticket.analysis import report
from tests import conftest
from tests import runs

FIXTURE = os.path.join(os.path.dirname(__file__), 'fixtures', 'lottery_499f855.tar.xz')


def test_an_earlier_versions_experiment_resumes_extends_and_analyses(tmp_path):
  with tarfile.open(FIXTURE) as archive:
    archive.extractall(tmp_path, filter='data')
  experiment = str(tmp_path / 'lottery_499f855')
  finished = runs.run_files(experiment)
  process = conftest.run_module(
      'mnist_fc.runners.lottery_experiment', '--levels=3', '--checkpoint_interval=20',
      '--progress_seconds=0',
      *conftest.small_run_flags(os.path.join(experiment, 'data'), experiment, iterations=60))
  assert process.returncode == 0, process.stderr[-3000:]
  assert 'level2 lottery] resuming from the checkpoint at iteration 20' in process.stdout
  after = runs.run_files(experiment)
  for name in finished:  # levels 0 and 1 untouched
    assert name in after, name
  for level in (0, 1):
    summary = os.path.join('trial1', f'level{level}', 'lottery', 'summary.json')
    assert after[summary] == finished[summary]
  for level in (2, 3):
    assert conftest.read_summary(os.path.join(experiment, 'trial1', f'level{level}',
                                              'lottery'))['status'] == 'complete'
  report.write_report(experiment, str(tmp_path / 'report'))
  table = pd.read_csv(tmp_path / 'report' / 'runs.csv')
  assert sorted(table['level']) == [0, 1, 2, 3]
  assert set(table['kind']) == {'lottery'}
