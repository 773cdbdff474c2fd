"""The throughput benchmark's seconds-long smoke run, so it cannot rot (no timing assertions)."""

import json

from tests import conftest


def test_train_throughput_smoke(tmp_path):
  output = str(tmp_path / 'throughput.json')
  process = conftest.run_module('benchmarks.train_throughput', '--smoke', f'--output={output}')
  assert process.returncode == 0, process.stderr
  with open(output) as f:
    report = json.load(f)
  for name in ('lenet300_100', 'conv2'):
    result = report['networks'][name]
    for key in ('fit', 'trainer_100', 'trainer_3.6', 'no_masks', 'paper_eval', 'eval_share',
                'masking_overhead', 'trainer_vs_fit', 'paper_round_seconds'):
      assert result[key] > 0 or key == 'masking_overhead', key
  assert report['memory']['traces'] > 0 and report['memory']['rss_mib_after_level_3'] > 0
  assert len(report['targets']) == 7
  assert '| lenet300_100 |' in process.stdout
