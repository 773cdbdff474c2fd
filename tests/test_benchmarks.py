"""The throughput benchmark's seconds-long smoke run, so it cannot rot (no timing assertions)."""

import json
import os
import subprocess
import sys

from tests import conftest

# As if installed without the test extra: importing pytest fails, as it did for the benchmark's
# old dependency on tests/conftest.py.
WITHOUT_PYTEST = ("import runpy, sys; sys.modules['pytest'] = None; "
                  "runpy.run_module('benchmarks.train_throughput', run_name='__main__', "
                  "alter_sys=True)")


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
    for key in ('fit', 'trainer_100', 'trainer_3.6', 'no_masks', 'paper_eval', 'eval_share',
                'masking_overhead', 'trainer_vs_fit', 'paper_round_seconds'):
      assert result[key] > 0 or key == 'masking_overhead', key
  assert report['memory']['traces'] > 0 and report['memory']['rss_mib_after_level_3'] > 0
  assert len(report['targets']) == 7
  assert '| lenet300_100 |' in process.stdout
