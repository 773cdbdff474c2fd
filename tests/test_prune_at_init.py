"""The prune_at_init runner end to end: run layout, summaries, the sanity checks' invariants,
resume, and the runs read back by the analysis loader."""

import os

import numpy as np
import pytest

from foundations import pruning
from lottery_ticket.analysis import load
from mnist_fc import constants
from tests import conftest

RUNNER = 'mnist_fc.runners.prune_at_init'


@pytest.fixture(scope='module')
def experiment(idx_dataset, tmp_path_factory):
  out = str(tmp_path_factory.mktemp('pai'))
  flags = conftest.small_run_flags(idx_dataset, out, iterations=20) + ['--eval_interval=10']
  for extra in (['--method=snip,synflow', '--ablation=none,shuffle,invert,reinit',
                 '--percent_remaining=20', '--synflow_rounds=10'],
                ['--method=random', '--sparsity_distribution=paper', '--percent_remaining=20']):
    process = conftest.run_module(RUNNER, *flags, *extra)
    assert process.returncode == 0, process.stderr[-3000:]
  return out, flags


def _run(out, name):
  return os.path.join(out, 'trial1', 'prune_at_init', name, 'remaining20')


def _arrays(run_dir, file_name):
  with np.load(os.path.join(run_dir, file_name)) as data:
    return {key: data[key] for key in data.files}


def test_every_variant_is_a_recorded_run_with_its_scores(experiment):
  out, _ = experiment
  for method in ('snip', 'synflow'):
    for suffix in ('', '_shuffle', '_invert', '_reinit'):
      run_dir = _run(out, method + suffix)
      summary = conftest.read_summary(run_dir)
      assert (summary['experiment'], summary['method'], summary['ablation']) == (
          'prune_at_init', method, suffix[1:] or 'none')
      assert summary['percent_remaining'] == pytest.approx(20.0, abs=0.01)
      assert 0 < summary['multiply_adds_remaining'] < 1 and summary['collapsed_layers'] == []
      assert os.path.isfile(os.path.join(run_dir, 'scores.npz'))
  random_run = _run(out, 'random_paper')
  assert not os.path.exists(os.path.join(random_run, 'scores.npz'))
  assert conftest.read_summary(random_run)['sparsity_distribution'] == 'paper'


def test_sanity_checks_keep_counts_and_change_only_what_they_say(experiment):
  out, _ = experiment
  for method in ('snip', 'synflow'):
    plain = _arrays(_run(out, method), 'masks.npz')
    counts = {name: int(mask.sum()) for name, mask in plain.items()}
    for ablation in ('shuffle', 'invert'):
      changed = _arrays(_run(out, f'{method}_{ablation}'), 'masks.npz')
      assert {name: int(mask.sum()) for name, mask in changed.items()} == counts
      assert any((changed[name] != plain[name]).any() for name in plain)
    reinit = _run(out, f'{method}_reinit')
    assert all((_arrays(reinit, 'masks.npz')[n] == plain[n]).all() for n in plain)
    before, after = _arrays(_run(out, method), 'initial.npz'), _arrays(reinit, 'initial.npz')
    for key in before:
      if key.endswith('/kernel'):
        kept = plain[key.split('/')[0]] > 0
        assert (before[key][kept] != after[key][kept]).mean() > 0.99
      else:
        np.testing.assert_array_equal(before[key], after[key])


def test_random_paper_counts_are_iterative_prunings_and_reruns_skip(experiment):
  out, flags = experiment
  masks = _arrays(_run(out, 'random_paper'), 'masks.npz')
  sizes = {name: mask.size for name, mask in masks.items()}
  rates = pruning.one_shot_rates(constants.LENET.prune_rates, sizes, 20.0)
  expected = {name: size - pruning.count_to_remove(rates[name], size)
              for name, size in sizes.items()}  # one-shot layer-wise pruning's counts
  assert {name: int(mask.sum()) for name, mask in masks.items()} == expected
  process = conftest.run_module(RUNNER, *flags, '--method=random', '--percent_remaining=20',
                                '--sparsity_distribution=paper')
  assert process.returncode == 0 and 'already complete, not retrained' in process.stdout


def test_the_loader_reads_every_variant_as_its_own_kind(experiment):
  out, _ = experiment
  kinds = set(load.load_experiment(out)['kind'])
  assert kinds == {'pai_snip', 'pai_snip_shuffle', 'pai_snip_invert', 'pai_snip_reinit',
                   'pai_synflow', 'pai_synflow_shuffle', 'pai_synflow_invert',
                   'pai_synflow_reinit', 'pai_random_paper'}
