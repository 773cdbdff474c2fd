"""Timing helpers shared by the benchmarks: medians, marginal speeds, timed command lines."""

import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from foundations import cpu_features
from foundations import errors

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def define_round_flags():
  """--repeats (interleaved rounds) and --tries (timings per length and round), the flags every
  interleaved benchmark shares; called once by each benchmark module."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_integer('repeats', 5, 'Interleaved rounds (median and min–max are reported).',
                       lower_bound=1)
  flags.DEFINE_integer('tries', 2, 'Timings of each length per round, the fastest kept (a '
                       'disturbed call is only ever slower).', lower_bound=1)


def check_choices(flag_name, values, known):
  """Exits with one 'error:' line unless every value of the list flag --flag_name is known."""
  if not values or any(value not in known for value in values):
    errors.exit_with_error(f'--{flag_name}={",".join(values or [])}: expected values of '
                           f'{", ".join(known)}')


def write_json(report, path):
  """Writes a benchmark's report as indented JSON, stamped with the UTC time it was written
  (runs of one benchmark hours apart differ: docs/performance.md), creating the file's folder."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  written = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
  with open(path, 'w') as f:
    json.dump(dict(report, written_utc=written), f, indent=2)


def print_targets(targets):
  """One 'PASS  check' or 'FAIL  check' line per {check: passed} of a benchmark's targets."""
  for check, passed in targets.items():
    print(f'{"PASS" if passed else "FAIL"}  {check}')


def machine():
  """This machine in words: architecture, CPU model, cores, the instruction sets that decide
  float32 and bfloat16 speed, and the OS."""
  return (f'{platform.machine()}, {cpu_features.describe()}, {os.cpu_count()} CPUs, '
          f'{platform.platform()}')


def median_seconds(function, repeats):
  """The median wall time of `repeats` calls of `function`."""
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _seconds(function, *args):
  start = time.perf_counter()
  function(*args)
  return time.perf_counter() - start


def marginal_steps_per_second(run, short, long, repeats=1):
  """Steps per second of `run(steps)` from two lengths: the extra steps over the extra seconds,
  so start-up, tracing, evaluation and per-call costs cancel out. Each length runs once first
  (traces and compiles). None when the longer call was not slower: too short to tell."""
  run(short)
  run(long)
  extra_seconds = (median_seconds(lambda: run(long), repeats) -
                   median_seconds(lambda: run(short), repeats))
  return (long - short) / extra_seconds if extra_seconds > 0 else None


def interleaved_marginal_rates(runs, repeats, tries=1):
  """Marginal steps/s of several runs, measured in turn so that they share the machine's drift.

  Args:
    runs: {name: (run, short, long)}, run(steps) doing `steps` steps; the marginal rate of one
      round is (long - short) / (seconds(long) - seconds(short)).
    repeats: rounds; every round times every run at both lengths, one run after another.
    tries: timings of each length per round (alternating long, short), the fastest of each
      kept: a disturbance of the machine only ever slows a call, so the fastest of a few is the
      least disturbed.

  Returns:
    {name: [steps/s of each round]} (a round whose longer call was not slower gives nan).
  """
  return interleaved_rounds(runs, {}, repeats, tries)[0]


def interleaved_rounds(runs, calls, repeats, tries=1):
  """interleaved_marginal_rates of `runs`, and in the same rounds, after them, the seconds of
  each of `calls` ({name: call()}, the fastest of `tries` per round): every figure's rounds then
  span the whole benchmark, not one stretch of it.

  Returns:
    ({name: [steps/s of each round]}, {name: [seconds of each round]}).
  """
  for run, short, long in runs.values():  # warm-up: traces and compiles both lengths
    run(short)
    run(long)
  for call in calls.values():
    call()
  rates = {name: [] for name in runs}
  seconds = {name: [] for name in calls}
  for _ in range(repeats):
    for name, (run, short, long) in runs.items():
      timings = [(_seconds(run, long), _seconds(run, short)) for _ in range(tries)]
      extra_seconds = min(t[0] for t in timings) - min(t[1] for t in timings)
      rates[name].append((long - short) / extra_seconds if extra_seconds > 0 else math.nan)
    for name, call in calls.items():
      seconds[name].append(min(_seconds(call) for _ in range(tries)))
  return rates, seconds


def spread(samples):
  """{'median', 'min', 'max', 'spread', 'rounds'} of repeated measurements, over the rounds that
  measured something (a nan: too short to tell); spread = (max - min) / median, the figure a
  second run of the benchmark is expected to repeat within."""
  values = [float(v) for v in samples if not math.isnan(v)]
  if not values:
    return {'median': math.nan, 'min': math.nan, 'max': math.nan, 'spread': math.nan, 'rounds': 0}
  median = statistics.median(values)
  return {'median': median, 'min': min(values), 'max': max(values),
          'spread': (max(values) - min(values)) / median if median else math.nan,
          'rounds': len(values)}


def ratios(numerators, denominators):
  """Round-by-round ratios of two interleaved measurements (their drift cancels)."""
  return [a / b for a, b in zip(numerators, denominators)]


def cell(summary, digits=1, unit=''):
  """'median (min–max)' of a spread() summary for a Markdown table."""
  f = lambda v: f'{v:.{digits}f}{unit}'  # pylint: disable=unnecessary-lambda-assignment
  return f'{f(summary["median"])} ({f(summary["min"])}–{f(summary["max"])})'


def run_modules(commands, env=None):
  """Runs `python -m module args` for every (module, args) of `commands` at once, from the
  repository root with `env` added to the environment; returns the seconds until the last ends.

  Raises:
    RuntimeError: one failed (its command line and the end of its stderr).
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=REPO_ROOT, **(env or {}))
  logs = [tempfile.TemporaryFile('w+') for _ in commands]  # not pipes: none waits to be read
  start = time.perf_counter()
  processes = [subprocess.Popen([sys.executable, '-m', module, *args], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=log, text=True)
               for (module, args), log in zip(commands, logs)]
  statuses = [process.wait() for process in processes]
  seconds = time.perf_counter() - start
  for (module, args), status, log in zip(commands, statuses, logs):
    log.seek(0)
    stderr = log.read()
    log.close()
    if status:
      raise RuntimeError(f'{module} {" ".join(args)}: exit {status}: {stderr[-2000:]}')
  return seconds


def run_module_seconds(module, args, env=None):
  """The wall seconds of `python -m module args` (run_modules of one command)."""
  return run_modules([(module, args)], env)
