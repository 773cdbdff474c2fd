"""The benchmarks' arithmetic on a fake clock: marginal rates cancel fixed per-call costs,
rounds interleave their runs, spreads and ratios summarise them (no timing of this machine)."""

import json
import math

import pytest

from benchmarks import _across_runs as across_runs
from benchmarks import _timing as timing
from benchmarks import repeatability
from foundations import cpu_features


class FakeClock:
  """time.perf_counter for timing: run(steps) advances it by a fixed cost plus steps / rate."""

  def __init__(self):
    self.now = 0.0
    self.calls = []

  def run(self, name, per_call_seconds, steps_per_second):
    def run(steps):
      self.calls.append((name, steps))
      self.now += per_call_seconds + steps / steps_per_second
    return run


def test_interleaved_marginal_rates_cancel_the_per_call_cost_and_alternate(monkeypatch):
  clock = FakeClock()
  monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock.now)
  rates = timing.interleaved_marginal_rates(
      {'fast': (clock.run('fast', 5.0, 400.0), 100, 300),
       'slow': (clock.run('slow', 0.5, 100.0), 10, 30)}, repeats=3)
  assert [round(r, 6) for r in rates['fast']] == [400.0] * 3
  assert [round(r, 6) for r in rates['slow']] == [100.0] * 3
  # Warm-up of both, then each round times both runs, one after the other.
  assert [name for name, _ in clock.calls] == ['fast'] * 2 + ['slow'] * 2 + (
      ['fast', 'fast', 'slow', 'slow'] * 3)
  assert [round(r, 6) for r in timing.ratios(rates['fast'], rates['slow'])] == [4.0] * 3


def test_interleaved_rounds_time_the_calls_in_every_round_after_the_runs(monkeypatch):
  clock = FakeClock()
  monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock.now)
  evaluations = iter([9.0, 3.0, 2.0, 5.0, 4.0])  # warm-up, then two tries in each of two rounds

  def evaluate():
    clock.calls.append(('evaluate', None))
    clock.now += next(evaluations)
  rates, seconds = timing.interleaved_rounds(
      {'train': (clock.run('train', 1.0, 50.0), 10, 20)}, {'evaluate': evaluate}, repeats=2,
      tries=2)
  assert [round(r, 6) for r in rates['train']] == [50.0] * 2
  assert [round(s, 6) for s in seconds['evaluate']] == [2.0, 4.0]  # each round's faster try
  assert [name for name, _ in clock.calls] == ['train'] * 2 + ['evaluate'] + (
      ['train'] * 4 + ['evaluate'] * 2) * 2


def test_with_tries_the_fastest_timing_of_each_length_is_kept(monkeypatch):
  clock = FakeClock()
  monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock.now)
  disturbed = clock.run('steady', 1.0, 100.0)
  calls = iter(range(100))

  def run(steps):  # every third call is disturbed: it takes 10 s longer
    disturbed(steps)
    clock.now += 10.0 if next(calls) % 3 == 2 else 0.0
  rates = timing.interleaved_marginal_rates({'steady': (run, 10, 30)}, repeats=2, tries=3)
  assert [round(r, 6) for r in rates['steady']] == [100.0] * 2
  assert len(clock.calls) == 2 + 2 * 3 * 2


def test_a_longer_call_that_is_not_slower_gives_nan_and_spreads_summarise(monkeypatch):
  clock = FakeClock()
  monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock.now)
  rates = timing.interleaved_marginal_rates({'flat': (clock.run('flat', 1.0, math.inf), 1, 2)}, 1)
  assert math.isnan(rates['flat'][0])
  summary = timing.spread([9.0, 10.0, 12.0])
  assert summary == {'median': 10.0, 'min': 9.0, 'max': 12.0, 'spread': 0.3, 'rounds': 3}
  assert timing.spread([math.nan, 4.0])['rounds'] == 1
  assert timing.spread([math.nan])['rounds'] == 0
  assert timing.cell(summary, 1, ' s') == '10.0 s (9.0 s–12.0 s)'


def test_bfloat16_warning_only_where_the_cpu_lacks_bfloat16(monkeypatch):
  for flags, warned in (('fma avx2', True), ('avx2 avx512f avx512_bf16', False), ('', False)):
    monkeypatch.setattr(cpu_features, 'cpuinfo', lambda f=flags: {'model name': 'X', 'flags': f})
    warning = cpu_features.emulated_bfloat16_warning('mixed_bfloat16', on_gpu=False)
    assert (warning is not None) == warned, flags
    assert cpu_features.emulated_bfloat16_warning('float32', on_gpu=False) is None
    assert cpu_features.emulated_bfloat16_warning('mixed_bfloat16', on_gpu=True) is None
  monkeypatch.setattr(cpu_features, 'cpuinfo', lambda: {'model name': 'X', 'flags': 'avx2'})
  assert cpu_features.emulated_bfloat16_warning('mixed_bfloat16', False).startswith(
      'warning: --precision=mixed_bfloat16 on a CPU without bfloat16 instructions')


def test_repeatability_compares_every_shared_figure_with_the_first_runs_spread(tmp_path, capsys):
  summary = lambda median, low, high: {'median': median, 'min': low, 'max': high}  # pylint: disable=unnecessary-lambda-assignment
  first = {'networks': {'conv2': {'speedup': summary(2.0, 1.9, 2.7), 'rate': summary(13, 11, 16),
                                  'samples': {'rate': summary(1, 1, 1)}}}, 'machine': 'x'}
  second = {'networks': {'conv2': {'speedup': summary(2.1, 2.0, 2.2), 'rate': summary(17, 16, 18),
                                   'samples': {'rate': summary(9, 9, 9)}}}}
  paths = []
  for name, report in (('first', first), ('second', second)):
    paths.append(str(tmp_path / f'{name}.json'))
    with open(paths[-1], 'w') as f:
      json.dump(report, f)
  assert repeatability.main(paths) == 1
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].startswith('repeats  networks/conv2/speedup: first 2.000 (1.900–2.700)')
  assert lines[1].startswith('DIFFERS  networks/conv2/rate')
  assert lines[2] == '1 of 2 figures repeat within the first run\'s spread'
  assert lines[3] == 'ratios within a round: 1 of 1 repeat; absolute rates and times: 0 of 1'
  assert repeatability.main(paths[:1] * 2) == 0
  capsys.readouterr()
  assert repeatability.main(paths[:1] * 2 + paths[1:]) == 1  # first, first again, second
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == f'{paths[0]} against {paths[0]}:'
  assert f'{paths[1]} against {paths[0]}:' in lines
  across = lines.index('across 3 runs: the medians, how far they span, the first run\'s spread')
  assert lines[across + 1:] == [
      'networks/conv2/speedup: 2.000, 2.000, 2.100; span 5% (first run 40%)',
      'networks/conv2/rate: 13.000, 13.000, 17.000; span 31% (first run 38%)',
      f'{paths[1]} against the band of the 2 runs before it:',
      'OUTSIDE  networks/conv2/rate: 17.000, band 11.000–16.000',
      '1 of 2 figures within the band (ratios 1 of 1)']
  with pytest.raises(SystemExit):
    repeatability.main([paths[0], str(tmp_path / 'missing.json')])
  assert capsys.readouterr().err.startswith(f'error: {tmp_path}/missing.json: expected a benchmark')


def test_history_bands_each_figure_over_the_earlier_runs_of_this_machine(tmp_path, capsys):
  summary = lambda median, low, high: {'median': median, 'min': low, 'max': high}  # pylint: disable=unnecessary-lambda-assignment
  earlier = {'machine': 'x', 'smoke': False,
             'networks': {'conv2': {'speedup': summary(2.0, 1.8, 2.1), 'gone': summary(1, 1, 1)}}}
  elsewhere = dict(earlier, machine='y')
  for name, report in (('run_1', earlier), ('run_2', elsewhere), ('run_3', earlier),
                       ('smoke', dict(earlier, smoke=True))):
    with open(tmp_path / f'{name}.json', 'w') as f:
      json.dump(report, f)
  output = str(tmp_path / 'run_3.json')  # rerun in place: the file it replaces never counts
  history = across_runs.load([str(tmp_path / 'run_*.json'), str(tmp_path / 'smoke.json')], output)
  assert [path for path, _ in history] == [str(tmp_path / f'{n}.json')
                                           for n in ('run_1', 'run_2', 'smoke')]
  report = {'machine': 'x', 'smoke': False,
            'networks': {'conv2': {'speedup': summary(2.2, 2.15, 2.3),
                                   'samples': {'speedup': summary(9, 9, 9)}}}}
  across_runs.attach(report, history)
  assert report['across_runs']['reports'] == [str(tmp_path / 'run_1.json')]
  assert [s['why'] for s in report['across_runs']['skipped']] == [
      'another machine: y', 'smoke']
  assert report['across_runs']['figures'] == {
      'networks/conv2/speedup': {'medians': [2.0, 2.2], 'low': 1.8, 'high': 2.3}}
  assert across_runs.figures(report).keys() == {('networks', 'conv2', 'speedup')}
  across_runs.print_bands(report)
  assert capsys.readouterr().out.splitlines()[-1] == 'networks/conv2/speedup: 2.2; 1.8–2.3; 2, 2.2'
  unchanged = {'machine': 'x'}
  across_runs.attach(unchanged, [])  # no --history: no band
  assert unchanged == {'machine': 'x'}
  with open(tmp_path / 'broken.json', 'w') as f:
    f.write('{')
  for pattern, expected in ((str(tmp_path / 'none_*.json'), 'no file matches it'),
                            (str(tmp_path / 'broken.json'), 'expected a benchmark report')):
    with pytest.raises(SystemExit):
      across_runs.load([pattern], output)
    error = capsys.readouterr().err
    assert error.startswith(f'error: --history={pattern}: ') and expected in error
