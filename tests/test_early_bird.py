"""Early-bird tickets end to end: searches stop at the first evaluation where the rule holds,
tickets are drawn from the weights there, and the report compares them with IMP's."""

import os

import numpy as np
import pandas as pd

from foundations import early_bird
from foundations import pruning
from lottery_ticket.analysis import report
from mnist_fc import constants
from tests import conftest


def _arrays(path):
  with np.load(path) as data:
    return {key: data[key] for key in data.files}


def test_searches_stop_where_the_mask_stopped_moving_and_tickets_come_from_there(
    idx_dataset, tmp_path):
  out = str(tmp_path / 'eb')
  flags = conftest.small_run_flags(idx_dataset, out, iterations=100) + ['--eval_interval=10']
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', '--levels=2',
                                '--early_bird_epsilon=0.1', *flags)
  assert process.returncode == 0, process.stderr[-3000:]
  trial = os.path.join(out, 'trial1')
  masks = None
  for level in (0, 1):
    search = os.path.join(trial, f'level{level}', 'lottery_early_bird')
    metrics = pd.read_csv(os.path.join(search, 'metrics.csv'))
    index = early_bird.emerged(metrics[early_bird.COLUMN], 0.1)
    assert index == len(metrics) - 1 and metrics['iteration'].iloc[-1] < 100  # stopped there
    weights = _arrays(os.path.join(search, 'final.npz'))
    masks = masks or {name: np.ones(m.shape, np.float32) for name, m in _arrays(
        os.path.join(search, 'masks.npz')).items()}
    masks = pruning.prune_by_percent(constants.LENET.prune_rates, masks,
                                     {k: np.abs(v) for k, v in weights.items()})
    ticket = os.path.join(trial, f'level{level + 1}', 'early_bird_ticket')
    recorded = _arrays(os.path.join(ticket, 'masks.npz'))
    assert all((recorded[name] == masks[name]).all() for name in masks)
    summary = conftest.read_summary(ticket)
    assert summary['search_stopped_at_iteration'] == metrics['iteration'].iloc[-1]
    assert pd.read_csv(os.path.join(ticket, 'metrics.csv'))['iteration'].iloc[-1] == 100
  process = conftest.run_module('mnist_fc.runners.lottery_experiment', '--levels=2', *flags)
  assert process.returncode == 0, process.stderr[-3000:]
  written = report.write_report(out, str(tmp_path / 'report'))
  text = open(written['report.md']).read()
  assert '## Early-bird tickets' in text and '| 2 | 64.1 |' in text
  assert 'Iterations in all: early-bird ' in text and 'vs IMP 300 (levels 0-2' in text


def test_the_comparison_counts_only_the_trials_that_have_early_bird_tickets():
  from lottery_ticket.analysis import early_bird as analysis  # pylint: disable=g-import-not-at-top
  from lottery_ticket.protocols import kinds  # pylint: disable=g-import-not-at-top
  runs = pd.DataFrame([  # trial 1: IMP and early-bird; trial 2: IMP only (another accuracy)
      dict(kind=kinds.TICKET, trial=t, level=l, run=f'imp{t}{l}', percent_remaining=p,
           test_accuracy_at_early_stop=a)
      for t, a in ((1, 0.80), (2, 0.60)) for l, p in ((0, 100.0), (1, 80.0))] + [
      dict(kind=kinds.EARLY_BIRD_SEARCH, trial=1, level=0, run='search', percent_remaining=100.0,
           test_accuracy_at_early_stop=0.5),
      dict(kind=kinds.EARLY_BIRD_TICKET, trial=1, level=1, run='eb', percent_remaining=80.0,
           test_accuracy_at_early_stop=0.81)])
  metrics = pd.DataFrame([dict(run=run, iteration=i) for run in runs['run']
                          for i in ((0, 40) if run == 'search' else (0, 100))])
  text = '\n'.join(analysis.comparison_lines(metrics, runs))
  assert '| 1 | 80.0 | 80.00% | 81.00% | +1.00 |' in text
  assert 'vs IMP 200 (levels 0-1' in text  # trial 1's two levels, not trial 2's too
