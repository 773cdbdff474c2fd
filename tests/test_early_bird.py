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
