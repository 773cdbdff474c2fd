"""A benchmark's figures beside the earlier runs of it on the same machine.

A run's min–max says how a figure moves while that run lasts. The shared machines these
benchmarks run on also change speed in steps over tens of minutes to hours, which no single run
shows (docs/performance.md, "What the spread leaves out"). Given --history (earlier reports of
the same benchmark), each figure also gets its band across runs: the lowest to the highest round
of this run and of every earlier run on the same machine (reports of another machine, or of
--smoke where this run is not, are skipped and named). A later run is expected to land within
that band; `benchmarks.repeatability` checks that it did.
"""

import glob
import json
import math
import os

from foundations import errors

_SUMMARY_KEYS = frozenset(('median', 'min', 'max'))
# Parts of a report that are not figures: the rounds behind the summaries, and the bands.
_NOT_FIGURES = frozenset(('samples', 'across_runs'))


def figures(report, path=()):
  """{('networks', 'conv2', ..., 'train_speedup'): summary} of every median/min/max summary."""
  if not isinstance(report, dict):
    return {}
  if _SUMMARY_KEYS <= report.keys():
    return {path: report}
  found = {}
  for key, value in report.items():
    if key not in _NOT_FIGURES:
      found.update(figures(value, path + (str(key),)))
  return found


def band(summaries):
  """(lowest min, highest max) of several runs' summaries of one figure, over the runs that
  measured it (nan, nan when none did: every round too short to tell)."""
  measured = [s for s in summaries if not math.isnan(s['min'])]
  if not measured:
    return math.nan, math.nan
  return min(s['min'] for s in measured), max(s['max'] for s in measured)


def define_history_flag():
  """--history, the flag of every benchmark that reports median (min–max) figures."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_list('history', [], 'Earlier reports of this benchmark (paths or glob patterns, '
                    'comma-separated): each figure is also printed with its band across them '
                    'and this run (only reports of this machine count).')


def read_report(path, named):
  """The JSON of the report at `path`; exits with one 'error:' line starting `named` (the path,
  or the flag that gave it) when it cannot be read as JSON."""
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as error:
    errors.exit_with_error(f'{named}: expected a benchmark report (JSON): {error}')


def load(patterns, output):
  """[(path, report)] of the files the --history patterns name (--output itself left out: it
  is about to be replaced). Exits with one 'error:' line, before anything is timed, for a
  pattern that names no file or a file that is not a report."""
  paths = []
  for pattern in patterns:
    matched = sorted(glob.glob(pattern))
    if not matched:
      errors.exit_with_error(f'--history={pattern}: expected an earlier report (JSON); no file '
                             'matches it')
    paths += [p for p in matched if p not in paths]
  reports = []
  for path in paths:
    if os.path.abspath(path) == os.path.abspath(output):
      continue
    report = read_report(path, f'--history={path}')
    if not isinstance(report, dict) or not figures(report):
      errors.exit_with_error(f'--history={path}: expected a benchmark report (JSON with '
                             'median/min/max figures)')
    reports.append((path, report))
  return reports


def attach(report, history):
  """Adds report['across_runs'] (nothing without --history): the earlier runs that count, those
  skipped and why, and for every figure of this run its medians and band over them and it."""
  if not history:
    return
  same, skipped = [], []
  for path, earlier in history:
    if earlier.get('machine') != report['machine']:
      skipped.append({'path': path, 'why': f'another machine: {earlier.get("machine")}'})
    elif bool(earlier.get('smoke')) != bool(report.get('smoke')):
      skipped.append({'path': path, 'why': 'smoke' if earlier.get('smoke') else 'not smoke'})
    else:
      same.append((path, figures(earlier)))
  bands = {}
  for path, summary in figures(report).items():
    runs = [found[path] for _, found in same if path in found] + [summary]
    low, high = band(runs)
    bands['/'.join(path)] = {'medians': [s['median'] for s in runs], 'low': low, 'high': high}
  report['across_runs'] = {'reports': [path for path, _ in same], 'skipped': skipped,
                           'figures': bands}


def print_bands(report):
  """After a benchmark's tables: each figure's median here, and its band across the runs."""
  across = report.get('across_runs')
  if across is None:
    return
  for skipped in across['skipped']:
    print(f'history: {skipped["path"]} skipped ({skipped["why"]})')
  print(f'\nacross runs on this machine ({len(across["reports"])} earlier, then this one): '
        'median here; lowest–highest round of all of them; the medians\n')
  for name, figure in across['figures'].items():
    medians = ', '.join(_number(m) for m in figure['medians'])
    print(f'{name}: {_number(figure["medians"][-1])}; {_number(figure["low"])}–'
          f'{_number(figure["high"])}; {medians}')


def _number(value):
  """Three significant digits, thousands whole and comma-grouped (1,182 steps/s; 0.0427 s)."""
  return f'{value:,.0f}' if abs(value) >= 1000 else f'{value:.3g}'
