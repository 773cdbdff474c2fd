"""The report's 'Pruning at initialization' section and figures on a hand-made experiment.

Run directories are written by hand (summary.json and metrics.csv as the runners write them):
no TensorFlow, no training; the whole file takes a few seconds.
"""

import json
import os

import pytest

from lottery_ticket.analysis import load
from lottery_ticket.analysis import pruning_at_init
from lottery_ticket.analysis import report
from lottery_ticket.analysis import summary

ITERATIONS = (100, 200, 300)
VALIDATION_LOSSES = (0.3, 0.2, 0.4)  # early stop at iteration 200, the second row
LAYER_TOTALS = {'dense': 235200, 'dense_1': 30000, 'dense_2': 1000}
PNG = b'\x89PNG\r\n\x1a\n'


def write_run(run_dir, trial, experiment, percent, accuracy, **details):
  """metrics.csv whose early stop (lowest validation loss) has test accuracy `accuracy`, and
  the summary.json of a complete run."""
  os.makedirs(run_dir)
  with open(os.path.join(run_dir, 'metrics.csv'), 'w') as f:
    f.write('iteration,train_loss,train_accuracy,validation_loss,validation_accuracy,'
            'test_loss,test_accuracy\n')
    for iteration, loss, test in zip(ITERATIONS, VALIDATION_LOSSES,
                                     (accuracy - 0.05, accuracy, accuracy - 0.01)):
      f.write(f'{iteration},0.1,0.9,{loss},0.9,0.3,{test}\n')
  summary_json = dict(experiment=experiment, trial=trial, network='lenet300_100',
                      dataset='mnist', status='complete', percent_remaining=percent,
                      early_stop_iteration=200, test_accuracy_at_early_stop=accuracy,
                      final_test_accuracy=accuracy - 0.01, training_iterations=300, **details)
  with open(os.path.join(run_dir, 'summary.json'), 'w') as f:
    json.dump(summary_json, f)


def write_pai_run(root, trial, name, method, ablation, percent, accuracy, multiply_adds,
                  collapsed=()):
  remaining = {layer: 0 if layer in collapsed else round(total * percent / 100)
               for layer, total in LAYER_TOTALS.items()}
  layers = {layer: dict(remaining=remaining[layer], total=total,
                        percent_remaining=100 * remaining[layer] / total)
            for layer, total in LAYER_TOTALS.items()}
  write_run(os.path.join(root, f'trial{trial}', 'prune_at_init', name, f'remaining{percent:g}'),
            trial, 'prune_at_init', percent, accuracy, method=method, scope='global',
            ablation=ablation, sparsity_distribution=None, target_percent_remaining=percent,
            layers=layers, multiply_adds_remaining=multiply_adds,
            collapsed_layers=list(collapsed))


def write_references(root):
  """Lottery levels 0-2 in trials 1 and 2, a one-shot run in trial 1."""
  for trial in (1, 2):
    for level, percent, accuracy in ((0, 100.0, 0.90), (1, 51.3, 0.91), (2, 21.1, 0.89)):
      write_run(os.path.join(root, f'trial{trial}', f'level{level}', 'lottery'), trial,
                'lottery', percent, accuracy, level=level)
  write_run(os.path.join(root, 'trial1', 'one_shot', 'remaining51.3'), 1, 'one_shot', 51.3,
            0.895)


@pytest.fixture
def experiment(tmp_path):
  root = str(tmp_path / 'experiment')
  write_references(root)
  write_pai_run(root, 1, 'snip', 'snip', 'none', 51.3, 0.88, 0.50)
  write_pai_run(root, 2, 'snip', 'snip', 'none', 51.3, 0.86, 0.52)  # two trials: mean 87%
  write_pai_run(root, 1, 'snip', 'snip', 'none', 21.1, 0.80, 0.15, collapsed=('dense_2',))
  write_pai_run(root, 1, 'synflow', 'synflow', 'none', 51.3, 0.885, 0.49)
  write_pai_run(root, 1, 'synflow', 'synflow', 'none', 21.1, 0.86, 0.20)
  write_pai_run(root, 1, 'snip_shuffle', 'snip', 'shuffle', 51.3, 0.875, 0.50)
  write_pai_run(root, 1, 'snip_shuffle', 'snip', 'shuffle', 21.1, 0.83, 0.20)
  return root


def test_pai_runs_are_loaded_with_their_kinds(experiment):
  runs = summary.runs_table(load.load_experiment(experiment)).set_index('run')
  assert runs.loc['trial2/prune_at_init/snip/remaining51.3', 'kind'] == 'pai_snip'
  assert runs.loc['trial1/prune_at_init/snip_shuffle/remaining21.1', 'kind'] == 'pai_snip_shuffle'
  assert len(runs) == 7 + 7


def test_section_numbers(experiment):
  runs = summary.runs_table(load.load_experiment(experiment))
  analysis = pruning_at_init.analyse(experiment, runs, summary.summarize(runs))
  assert list(analysis.variants.index) == ['pai_snip', 'pai_snip_shuffle', 'pai_synflow']
  lines = pruning_at_init.section(analysis)
  assert lines[0] == '## Pruning at initialization'
  # mean of 88% and 86%, min-max; multiply-adds (50% + 52%) / 2; the ticket at 51.3%: 91%
  assert '| SNIP | 51.3 | 2 | 87.00% (86.00–88.00) | 51.00% | -4.00 (ticket at 51.3%) |' in lines
  assert '| SNIP | 21.1 | 1 | 80.00% | 15.00% | -9.00 (ticket at 21.1%) |' in lines
  assert '| SynFlow | 51.3 | 1 | 88.50% | 49.00% | -2.50 (ticket at 51.3%) |' in lines
  assert not any(line.startswith('| SNIP, shuffle') for line in lines)  # unablated only
  # ablations: 87.5 - 87 and 83 - 80 points; SynFlow has none
  assert '| method | % remaining | unablated | shuffle |' in lines
  assert '| SNIP | 51.3 | 87.00% | +0.50 |' in lines
  assert '| SNIP | 21.1 | 80.00% | +3.00 |' in lines
  assert not any(line.startswith('| SynFlow | 51.3 | 88.50% |') for line in lines)
  assert pruning_at_init.collapsed_runs(analysis) == [
      ('trial1/prune_at_init/snip/remaining21.1', [('dense_2', 1000)])]
  assert '- `trial1/prune_at_init/snip/remaining21.1`: `dense_2` (0 of 1,000 weights)' in lines


def test_report_has_the_section_and_figures(experiment, tmp_path):
  written = report.write_report(experiment, str(tmp_path / 'out'))
  text = open(written['report.md']).read()
  assert '## Pruning at initialization' in text and '**1 run with a collapsed layer**' in text
  for name, caption in (pruning_at_init.ACCURACY_FIGURE, pruning_at_init.DENSITY_FIGURE):
    with open(written[name], 'rb') as f:
      assert f.read(8) == PNG
    assert f'![{caption}]({name})' in text


def test_no_pai_runs_no_section(tmp_path):
  root = str(tmp_path / 'experiment')
  write_references(root)
  written = report.write_report(root, str(tmp_path / 'out'))
  text = open(written['report.md']).read()
  assert 'Pruning at initialization' not in text and 'figure_pai' not in text
  assert not any(name.startswith('figure_pai') for name in written)
  assert not any(name.startswith('figure_pai') for name in os.listdir(tmp_path / 'out'))
