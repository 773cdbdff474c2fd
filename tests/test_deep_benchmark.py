"""The deep-network throughput benchmark's smoke run, so it cannot rot (no timing assertions)."""

import json

import pytest

from tests import conftest


@pytest.mark.slow  # ~40 s on 2 cores; the timing arithmetic: tests/test_benchmark_timing.py
def test_deep_throughput_smoke(tmp_path):
  output = str(tmp_path / 'deep.json')
  process = conftest.run_module('benchmarks.deep_throughput', '--smoke', '--networks=resnet20',
                                f'--output={output}')
  assert process.returncode == 0, process.stderr
  with open(output) as f:
    result = json.load(f)['networks']['resnet20']
  assert result['batch_size'] == 8 and result['eval_interval'] == 1000
  for key in ('train_steps_per_second', 'fit_steps_per_second', 'trainer_vs_fit', 'eval_seconds'):
    assert result[key]['min'] <= result[key]['median'] <= result[key]['max'], key
  for key in ('eval_share', 'paper_run_hours'):
    assert result[key] > 0, key
  assert result['bound']['steps_per_second'] > 0 and len(result['bound']['layers']) == 22  # 21 convolutions, 1 dense
  assert '| resnet20 | 8 |' in process.stdout
