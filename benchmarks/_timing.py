"""Timing helpers shared by the benchmarks: medians, marginal speeds, timed command lines."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_seconds(function, repeats):
  """The median wall time of `repeats` calls of `function`."""
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def marginal_steps_per_second(run, short, long, repeats=1):
  """Steps per second of `run(steps)` from two lengths: the extra steps over the extra seconds,
  so start-up, tracing, evaluation and per-call costs cancel out. Each length runs once first
  (traces and compiles). None when the longer call was not slower: too short to tell."""
  run(short)
  run(long)
  extra_seconds = (median_seconds(lambda: run(long), repeats) -
                   median_seconds(lambda: run(short), repeats))
  return (long - short) / extra_seconds if extra_seconds > 0 else None


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
