"""The benchmarks' seconds-long smoke runs, so they cannot rot (no timing assertions), and their
flag checks and profile parsing."""

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


@pytest.mark.slow  # ~50 s; the policy itself: tests/test_precision.py
def test_precision_throughput_smoke(tmp_path):
  output = str(tmp_path / 'precision.json')
  earlier = str(tmp_path / 'earlier.json')
  for history in ([], [f'--history={earlier}']):  # the second run is given the first's report
    if history:
      os.replace(output, earlier)
    process = conftest.run_module('benchmarks.precision_throughput', '--smoke',
                                  '--networks=lenet300_100', f'--output={output}', *history)
    assert process.returncode == 0, process.stderr
  with open(output) as f:
    report = json.load(f)
  result = report['networks']['lenet300_100']
  band = report['across_runs']['figures']['networks/lenet300_100/train_speedup/mixed_bfloat16']
  assert report['across_runs']['reports'] == [earlier] and len(band['medians']) == 2
  assert band['low'] <= min(band['medians']) and 'across runs on this machine' in process.stdout
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
      ('sweep_speedup', ['--levels=0'], '--levels=0: expected a positive integer'),
      ('deep_throughput', ['--history=missing_*.json'], '--history=missing_*.json: expected an '
       'earlier report')):
    process = conftest.run_module(f'benchmarks.{module}', *args)
    assert process.returncode == 2, process.stderr[-2000:]
    lines = [line for line in process.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and lines[0].startswith(f'error: {expected}'), process.stderr[-2000:]


def _xplane_file(directory, lines):
  """A profile of one CPU plane: lines of (line name, [(event name, start ps, duration ps)])."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  space = xplane_pb2.XSpace()
  plane = space.planes.add(name='/host:CPU')
  ids = {}
  for line_name, events in lines:
    line = plane.lines.add(name=line_name, timestamp_ns=1)
    for name, start_ps, duration_ps in events:
      ids.setdefault(name, len(ids) + 1)
      plane.event_metadata[ids[name]].name = name
      line.events.add(metadata_id=ids[name], offset_ps=start_ps, duration_ps=duration_ps)
  os.makedirs(directory / 'plugins')
  (directory / 'plugins' / 'host.xplane.pb').write_bytes(space.SerializeToString())
  return str(directory)


def test_op_profile_sums_op_types_per_part(tmp_path):
  from benchmarks import op_profile  # pylint: disable=g-import-not-at-top
  logdir = _xplane_file(tmp_path, [
      ('python', [('StatefulPartitionedCall: __inference_steps_7', 0, 100),
                  ('StatefulPartitionedCall: __inference__evaluate_fn_9', 100, 50),
                  ('dense/MatMul:_MklMatMul', 10, 99)]),  # not an executor thread
      ('tf_Compute/1', [('ExecutorState::Process', 0, 150),
                        ('dense/MatMul:_MklMatMul', 10, 30), ('relu/Relu:Relu', 40, 5),
                        ('dense/MatMul:_MklMatMul', 110, 20)]),
      ('tf_Compute/2', [('grad/MatMul_1:_MklMatMul#id=3#', 60, 10)])])
  seconds = op_profile.op_seconds(logdir)
  assert seconds['training'] == pytest.approx({'_MklMatMul': 40e-12, 'Relu': 5e-12})
  assert seconds['evaluation'] == pytest.approx({'_MklMatMul': 20e-12})


@pytest.mark.slow  # ~20 s; the parsing: test_op_profile_sums_op_types_per_part
def test_op_profile_smoke(tmp_path):
  output = str(tmp_path / 'op_profile.json')
  process = conftest.run_module('benchmarks.op_profile', '--smoke', '--networks=lenet300_100',
                                '--precisions=float32', f'--output={output}')
  assert process.returncode == 0, process.stderr
  with open(output) as f:
    parts = json.load(f)['networks']['lenet300_100']['float32']
  assert any('MatMul' in kind for kind in parts['training'])
  assert any('MatMul' in kind for kind in parts['evaluation'])
  assert '| training | all ops |' in process.stdout
