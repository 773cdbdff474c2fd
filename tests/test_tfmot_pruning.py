"""The tfmot baseline runner: gradual magnitude pruning reaches a ticket's per-layer sparsity,
is recorded as a normal run, and the report compares tickets with it at equal sparsity."""

import os
import shutil

import numpy as np

from foundations import save_restore
from lottery_ticket.analysis import load
from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.analysis import verdicts
from tests import conftest


def test_tfmot_pruning_reaches_the_tickets_sparsity(lenet_ticket, idx_dataset, tmp_path):
  out = str(tmp_path / 'experiment')
  shutil.copytree(lenet_ticket, out)
  process = conftest.run_module('mnist_fc.runners.tfmot_pruning', '--percent_remaining=51.3',
                                *conftest.small_run_flags(idx_dataset, out))
  assert process.returncode == 0, process.stderr[-3000:]
  run_dir = f'{out}/trial1/tfmot_pruning/remaining51.3'
  summary = conftest.read_summary(run_dir)
  ticket = conftest.read_summary(f'{out}/trial1/level3/lottery')
  assert summary['experiment'] == 'tfmot_pruning' and summary['status'] == 'complete'
  masks = save_restore.load_arrays(f'{run_dir}/masks.npz')
  final = save_restore.load_arrays(f'{run_dir}/final.npz')
  initial = save_restore.load_arrays(f'{run_dir}/initial.npz')
  theta0 = save_restore.load_arrays(f'{out}/trial1/level0/lottery/initial.npz')
  for name, layer in ticket['layers'].items():
    assert summary['layers'][name]['remaining'] == layer['remaining'], name  # exactly
    np.testing.assert_array_equal(final[f'{name}/kernel'] != 0, masks[name] == 1)
    np.testing.assert_array_equal(initial[f'{name}/kernel'], theta0[f'{name}/kernel'])
  assert summary['pruning_schedule']['end_step'] <= 0.75 * summary['training_iterations']
  assert os.path.isfile(f'{run_dir}/metrics.csv')
  # The analysis finds it and compares the ticket with it at equal sparsity.
  table = summary_lib.summarize(load.load_experiment(out))
  comparison = verdicts.control_comparison(table)
  row = comparison[comparison['kind'] == 'tfmot_pruning']
  assert list(row['percent_remaining']) == [51.3]
