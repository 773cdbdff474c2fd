"""benchmarks.gpu_check on a CPU: its whole pipeline as a smoke run (no timing assertions), its one
error line without a GPU, and --deterministic's pieces that need no GPU."""

import json
import os
import re

import pytest

from benchmarks import _gpu_report as gpu_report
from foundations import determinism
from tests import conftest

NO_GPU = {'CUDA_VISIBLE_DEVICES': ''}
MAXPOOL_REFUSAL = (
    'GPU MaxPool gradient ops do not yet have a deterministic XLA implementation.\n'
    '\t [[{{node gradient_tape/while/sequential/max_pooling2d/MaxPool/MaxPoolGrad}}]]\n'
    '\ttf2xla conversion failed while converting while_body_822_const_0_rearrange_0[].')


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
  """(process, gpu_check.json, gpu_check.md) of one tiny run on the CPU: LeNet in float32 (the
  timing is the same code in every precision), a one-run sweep with one worker on a stand-in GPU,
  three lottery experiments for determinism."""
  out = str(tmp_path_factory.mktemp('gpu_check'))
  process = conftest.run_module(
      'benchmarks.gpu_check', f'--output_dir={out}', '--allow_cpu', '--smoke', '--repeats=1',
      '--networks=lenet300_100', '--precisions=float32', '--sweep_workers=1',
      env=NO_GPU)
  assert process.returncode == 0, process.stderr[-3000:]
  with open(os.path.join(out, 'gpu_check.json')) as f:
    report = json.load(f)
  with open(os.path.join(out, 'gpu_check.md')) as f:
    return process, report, f.read()


@pytest.mark.slow  # five TensorFlow processes; the parts are unit-tested below
def test_smoke_run_checks_placement_speed_sweep_and_determinism(smoke):
  _, report, _ = smoke
  lenet = report['training']['lenet300_100']
  assert lenet['placement']['on_device'] and lenet['batch_size'] == 60 and lenet['jit_compile']
  assert all(device.endswith('CPU:0') for devices in (lenet['placement']['variables'],
                                                      lenet['placement']['step_outputs'])
             for device in devices)
  assert lenet['float32'] is None or lenet['float32'] > 0  # None: tiny lengths cannot tell
  assert report['sweep']['runs'] == 1 and report['sweep']['seconds']['1'] > 0
  # Two --deterministic runs bit for bit; without it, other rounding (shown, not a check).
  assert report['determinism']['files'] == 10
  assert report['determinism']['deterministic_reruns'] == []
  assert isinstance(report['determinism']['without_and_with'], list)
  assert len(report['checks']) == 3 and all(report['checks'].values())
  assert set(report['seconds']) == {'training', 'sweep', 'determinism'}


@pytest.mark.slow  # five TensorFlow processes; the parts are unit-tested below
def test_markdown_report_is_printed_and_saved(smoke):
  process, _, text = smoke
  assert text in process.stdout
  for line in ('| lenet300_100 | 60 | yes |', '| 1 |', '| two runs with --deterministic | yes |',
               '- PASS two --deterministic runs: every result file bit for bit'):
    assert line in text, line


def test_without_a_gpu_it_stops_at_once_with_one_error_line(tmp_path):
  out = str(tmp_path / 'out')
  process = conftest.run_module('benchmarks.gpu_check', f'--output_dir={out}',
                                env=dict(NO_GPU, PYTHONPROFILEIMPORTTIME='1'))
  lines = [line for line in process.stderr.splitlines() if line.startswith('error:')]
  assert process.returncode == 2 and len(lines) == 1, process.stderr[-3000:]
  assert lines[0].startswith('error: no GPU here') and '--allow_cpu' in lines[0]
  assert not re.search(r'\|\s+tensorflow\s*$', process.stderr, re.MULTILINE)  # not imported
  assert not os.path.exists(out)


def test_xla_determinism_flag_is_added_once_to_the_others():
  environ = {'XLA_FLAGS': '--xla_dump_to=/tmp/x'}
  determinism.request_xla_determinism(environ)
  determinism.request_xla_determinism(environ)
  assert environ['XLA_FLAGS'] == '--xla_dump_to=/tmp/x --xla_gpu_deterministic_ops=true'
  empty = {}
  determinism.request_xla_determinism(empty)
  assert empty == {'XLA_FLAGS': '--xla_gpu_deterministic_ops=true'}


def test_refusal_is_one_line_naming_the_flag_the_op_and_what_to_do():
  line = determinism.refusal(MAXPOOL_REFUSAL, jit_compile=True)
  assert '\n' not in line and line.startswith('--deterministic: ')
  assert '(op MaxPoolGrad)' in line and 'do not yet have a deterministic XLA implementation' in line
  assert 'run without --deterministic, or with --nojit_compile' in line
  assert '--nojit_compile' not in determinism.refusal(MAXPOOL_REFUSAL, jit_compile=False)


def test_a_failed_part_is_reported_and_fails_its_checks():
  report = {
      'device': 'NVIDIA H200', 'expected_device': 'GPU:0', 'smoke': False, 'machine': 'x86_64',
      'tensorflow': '2.21.0', 'precisions': ['float32', 'mixed_bfloat16'],
      'seconds': {'training': 60.0, 'sweep': 1.0, 'determinism': 30.0},
      'training': {'conv2': {'batch_size': 60, 'jit_compile': True, 'float32': 800.0,
                             'mixed_bfloat16': None, 'placement': {
                                 'variables': ['/device:GPU:0'], 'step_outputs': ['/device:GPU:0'],
                                 'on_device': True},
                             'errors': {'mixed_bfloat16': 'InternalError: no kernel'}}},
      'sweep': {'error': 'lottery_ticket.sweep ...: exit 2: error: out of memory'},
      'determinism': {'files': 10, 'deterministic_reruns': ['trial1/level1/lottery/final.npz: '
                                                            'output/kernel differ'],
                      'without_and_with': []}}
  report['checks'] = gpu_report.checks(report)
  assert report['checks'] == {
      'conv2: variables and training step outputs on GPU:0': True,
      'two --deterministic runs: every result file bit for bit': False,
      'every timing ran (failed: conv2)': False}
  text = gpu_report.markdown(report)
  for line in ('| conv2 | 60 | yes | 800.0 | — | — |', '- conv2 in mixed_bfloat16: InternalError',
               'failed: lottery_ticket.sweep', '| two runs with --deterministic | no | trial1/',
               '- FAIL every timing ran (failed: conv2)'):
    assert line in text, line
