"""A newcomer's first minutes: the bundled sample, the main job on it, quiet output, --help."""

import collections
import json
import os
import subprocess
import sys

import numpy as np

from foundations import console
from lottery_ticket import datasets
from lottery_ticket import progress
from lottery_ticket.analysis import figures
from lottery_ticket.datasets import sample
from tests import conftest

RUNNER = 'mnist_fc.runners.lottery_experiment'


def _run_as_a_newcomer(*args):
  """The runner as typed in a shell: no TF_CPP_MIN_LOG_LEVEL (the suite sets it elsewhere)."""
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  env['PYTHONPATH'] = conftest.REPO_ROOT
  return subprocess.run([sys.executable, '-m', RUNNER, *args], cwd=conftest.REPO_ROOT, env=env,
                        capture_output=True, text=True, timeout=600)


def test_the_bundled_sample_is_real_balanced_and_split_for_its_size():
  data = datasets.load(datasets.BUNDLED, validation_size=sample.VALIDATION_SIZE)
  assert data.source == sample.DIRECTORY
  assert [len(split[1]) for split in (data.train, data.validation, data.test)] == [
      9000, 1000, 2000]
  assert data.train[0].shape[1:] == (28, 28, 1) and data.train[0].dtype == np.uint8
  train_counts = collections.Counter(np.concatenate([data.train[1], data.validation[1]]))
  assert train_counts == {c: 1000 for c in range(10)}
  assert collections.Counter(data.test[1]) == {c: 200 for c in range(10)}
  assert data.train[0].std() > 50  # real images, not a blank or constant file
  assert os.path.isfile(os.path.join(sample.DIRECTORY, 'LICENSE'))


def test_main_job_on_the_bundled_sample_is_quiet_and_ends_with_the_report_command(tmp_path):
  out = str(tmp_path / 'first')
  process = _run_as_a_newcomer(f'--dataset={datasets.BUNDLED}', f'--output_dir={out}',
                               '--levels=1', '--training_iterations=20', '--eval_interval=10')
  assert process.returncode == 0, process.stderr
  assert process.stderr == ''  # no TensorFlow or absl lines: only ours, and there are none
  lines = process.stdout.splitlines()
  assert lines[0].startswith('lottery: network=lenet300_100 dataset=fashion_mnist_sample')
  assert '[trial1 level1 lottery] verdict: the 80.0% ticket ' in process.stdout
  assert lines[-1] == (f'report: python -m lottery_ticket.analysis.report '
                       f'--experiment_dir={out} --output_dir={out}/report')
  with open(os.path.join(out, 'experiment.json')) as f:
    assert json.load(f)['validation_size'] == sample.VALIDATION_SIZE


def test_help_lists_the_runners_flags_grouped_and_exits_0():
  for flag in ('--help', '-h'):
    process = _run_as_a_newcomer(flag)
    assert process.returncode == 0, process.stderr
    text = process.stdout
    assert text.startswith(f'usage: python -m {RUNNER} ')
    groups = [text.index(f'\n{title}:\n') for title in
              ('this command', 'training settings', 'network, data and output')]
    assert groups == sorted(groups)
    assert '  --levels (default: 20)' in text and '--verbosity' not in text
    assert text.index('--levels') < groups[1] < text.index('--learning_rate') < groups[2]


def test_start_up_notices_are_recognised_and_real_lines_kept():
  notices = [
      'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
      'I0000 00:00:1796135678.915643    5667 port.cc:153] oneDNN custom operations are on.',
      'E0000 00:00:1796135681.321628    5667 cuda_platform.cc:52] failed call to cuInit: INTERNAL',
      'To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild '
      'TensorFlow with the appropriate compiler flags.',
      # an op refused under --deterministic (foundations.determinism prints its own line)
      'E0000 00:00:1796165328.117494    8486 graph_compiler.cc:153] Executor failed to create '
      'kernel. UNIMPLEMENTED: GPU MaxPool gradient ops do not yet have a deterministic XLA '
      'implementation.',
      '\t [[{{node gradient_tape/while/sequential/max_pooling2d/MaxPool/MaxPoolGrad}}]]\n']
  assert all(console._NOTICE.match(line) for line in notices)  # pylint: disable=protected-access
  kept = ['E0000 00:00:1.2  5 bfc_allocator.cc:1] Allocator ran out of memory',
          'E0000 00:00:1.2  5 graph_compiler.cc:153] Executor failed to create kernel. '
          'INVALID_ARGUMENT: a real problem',
          'error: --dataset=x: unknown', 'Traceback (most recent call last):']
  assert not any(console._NOTICE.match(line) for line in kept)  # pylint: disable=protected-access
  assert console.verbose_requested(['runner', '--verbosity=0'])
  assert console.verbose_requested(['runner', '-v', '1'])


def test_verdict_and_figure_heading_name_what_was_run():
  dense = dict(percent_remaining=100.0, test_accuracy_at_early_stop=0.8892,
               early_stop_iteration=9400)
  ticket = dict(percent_remaining=21.1, test_accuracy_at_early_stop=0.8935,
                early_stop_iteration=5400)
  assert progress.verdict(ticket, dense, 0.2) == (
      'the 21.1% ticket matches the dense network (within 0.2 points): test accuracy at early '
      'stop 89.35% vs 88.92%; stops 43% earlier (5,400 vs 9,400)')
  worse = dict(ticket, test_accuracy_at_early_stop=0.87, early_stop_iteration=9400)
  assert 'falls 1.92 points short' in progress.verdict(worse, dense, 0.2)
  assert 'stops at the same iteration' in progress.verdict(worse, dense, 0.2)
  assert figures.figure1_heading(['lottery']) == 'winning tickets'
  assert figures.figure1_heading(['random_prune', 'lottery', 'reinit']) == (
      'winning tickets vs random reinit, random pruning')
