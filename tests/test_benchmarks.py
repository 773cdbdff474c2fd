"""The throughput benchmark's seconds-long smoke run, so it cannot rot (no timing assertions)."""

import json
import os
import subprocess
import sys

import pytest

from tests import conftest

# As if installed without the test extra: importing pytest fails, as it did for the benchmark's
# old dependency on tests/conftest.py.
WITHOUT_PYTEST = ("import runpy, sys; sys.modules['pytest'] = None; "
                  "runpy.run_module('benchmarks.train_throughput', run_name='__main__', "
                  "alter_sys=True)")


@pytest.mark.slow  # ~100 s on 2 cores; the timing arithmetic: tests/test_benchmark_timing.py
def test_train_throughput_smoke_without_pytest(tmp_path):
  output = str(tmp_path / 'throughput.json')
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=conftest.REPO_ROOT)
  process = subprocess.run([sys.executable, '-c', WITHOUT_PYTEST, '--smoke', f'--output={output}'],
                           cwd=conftest.REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=600)
  assert process.returncode == 0, process.stderr
  with open(output) as f:
    report = json.load(f)
  for name in ('lenet300_100', 'conv2'):
    result = report['networks'][name]
    for key in ('fit', 'fit_tuned', 'trainer_100', 'trainer_3.6', 'no_masks'):
      rate = result['rates'][key]  # a smoke round may be too short to tell (nan)
      assert rate['rounds'] == 0 or rate['min'] <= rate['median'] <= rate['max'], key
      assert len(result['samples']['rates'][key]) == 2, key
    for key in ('trainer_vs_fit', 'trainer_vs_fit_tuned', 'paper_round_seconds', 'eval_share'):
      assert len(result['samples']['ratios'][key]) == 2, key
    assert 0 < result['bound']['gflop_per_step'] and result['bound']['steps_per_second'] > 0
  assert report['networks']['lenet300_100']['paper_eval_measured']
  assert 'paper_eval' not in report['networks']['conv2']['rates']  # derived for Conv-2
  assert report['memory']['traces'] > 0 and report['memory']['rss_mib_after_level_3'] > 0
  assert len(report['targets']) == 7
  assert '| lenet300_100 |' in process.stdout and ' CPUs, ' in report['machine']


@pytest.mark.slow  # ~25 s; the policy itself: tests/test_precision.py
def test_precision_throughput_smoke(tmp_path):
  output = str(tmp_path / 'precision.json')
  process = conftest.run_module('benchmarks.precision_throughput', '--smoke',
                                '--networks=lenet300_100', f'--output={output}')
  assert process.returncode == 0, process.stderr
  with open(output) as f:
    result = json.load(f)['networks']['lenet300_100']
  assert {p: m['compute_dtype'] for p, m in result['precisions'].items()} == {
      'float32': 'float32', 'mixed_bfloat16': 'bfloat16'}  # the policy reached the layers
  assert result['train_speedup']['mixed_bfloat16']['median'] > 0
  assert result['eval_speedup']['mixed_bfloat16']['median'] > 0
  assert '| lenet300_100 | mixed_bfloat16 |' in process.stdout


def test_benchmark_flags_are_checked_before_anything_runs():
  for module, args, expected in (
      ('precision_throughput', ['--networks=lenet5'], '--networks=lenet5: expected values of '),
      ('precision_throughput', ['--lengths=30,10'], '--lengths=30,10: expected short,long'),
      ('train_throughput', ['--tries=0'], '--tries=0: expected a positive integer'),
      ('sweep_speedup', ['--levels=0'], '--levels=0: expected a positive integer')):
    process = conftest.run_module(f'benchmarks.{module}', *args)
    assert process.returncode == 2, process.stderr[-2000:]
    lines = [line for line in process.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and lines[0].startswith(f'error: {expected}'), process.stderr[-2000:]
