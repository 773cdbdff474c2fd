"""Which runs an experiment lacks: trials, levels and one-shot targets that other trials have.

An experiment is expected to have, in every trial, the union of what any trial has: lottery
levels 0 to the highest level seen, each control at every level it was run at somewhere, and
each one-shot target. Trial numbers are expected from 1 to the highest trial directory.
"""

from lottery_ticket.analysis import summary as summary_lib
from lottery_ticket.protocols import kinds as kinds_lib


def _ranges(numbers):
  """'0, 3-7' for [0, 3, 4, 5, 6, 7]."""
  numbers, parts = sorted(numbers), []
  start = previous = None
  for n in numbers + [None]:
    if previous is not None and n == previous + 1:
      previous = n
      continue
    if start is not None:
      parts.append(str(start) if start == previous else f'{start}-{previous}')
    start = previous = n
  return ', '.join(parts)


def _expected_levels(kind, levels):
  return set(range(max(levels) + 1)) if kind == kinds_lib.TICKET else set(levels)


def missing_runs(runs):
  """(what, reason) pairs naming trials and runs that are absent.

  Args:
    runs: a summary.runs_table (its attrs['trials'] lists every trial directory found).

  Returns:
    A list of (name, reason) pairs, e.g. ('trial2', 'lottery levels 3-7 missing').
  """
  trials = sorted(set(runs['trial']) | set(runs.attrs.get('trials', ())))
  missing = [(f'trial{t}', 'no trial directory')
             for t in range(1, max(trials) + 1) if t not in trials]
  level_runs = runs[runs['level'].notna()]
  one_shot = runs[runs['kind'] == kinds_lib.ONE_SHOT]
  for kind in summary_lib.kind_order(level_runs['kind']):
    expected = _expected_levels(kind, level_runs.loc[level_runs['kind'] == kind, 'level'])
    for trial in trials:
      mask = (level_runs['kind'] == kind) & (level_runs['trial'] == trial)
      absent = expected - set(level_runs.loc[mask, 'level'])
      if absent:
        noun = 'level' if len(absent) == 1 else 'levels'
        missing.append((f'trial{trial}', f'{kind} {noun} {_ranges(absent)} missing'))
  percents = set(one_shot['percent_remaining'].round(summary_lib.PERCENT_DECIMALS))
  for trial in trials:
    present = one_shot.loc[one_shot['trial'] == trial, 'percent_remaining']
    absent = percents - set(present.round(summary_lib.PERCENT_DECIMALS))
    if absent:
      listed = ', '.join(f'{p:g}%' for p in sorted(absent, reverse=True))
      missing.append((f'trial{trial}', f'one_shot at {listed} remaining missing'))
  return sorted(missing)
