"""Does a benchmark's second run repeat its first? Every figure the two reports share, compared.

  python -m benchmarks.repeatability FIRST.json SECOND.json [MORE.json ...]

A figure is a summary the benchmarks write (median with min–max over interleaved rounds, e.g.
trainer/fit or a precision's speed-up). It repeats when the second run's median lies within the
first run's min–max, the spread the first run printed beside it. One line per figure, then the
count, for all figures and apart for ratios taken within a round (speed-ups, trainer/fit,
overheads, shares: they cancel the machine's slow changes of speed, which absolute rates and
times do not; docs/performance.md, "What the spread leaves out"); exit status 1 when a figure
does not repeat. Given more than two reports (runs of one benchmark at different times), each
later one is compared with the first, and then every figure all of them hold gets one line
with its medians and how far they span: the drift between runs, which a run's own spread
cannot show; and each run from the third on against the band of the runs before it (what a
benchmark given them as --history prints, benchmarks._across_runs).
"""

import sys

from benchmarks import _across_runs as history
from benchmarks import _timing as timing
from foundations import errors

# Names of the figures that are ratios of two timings of one round (train_speedup,
# trainer_vs_fit, masking_overhead, eval_share), as the benchmarks write them.
_RATIO_MARKERS = ('speedup', '_vs_', 'overhead', 'share')


def is_ratio(name):
  """Whether the figure `name` ('networks/conv2/train_speedup/mixed_bfloat16') is a ratio."""
  return any(marker in name for marker in _RATIO_MARKERS)


def compare(first, second):
  """[(name, first summary, second summary, repeats)] of the figures both reports hold."""
  ones, twos = history.figures(first), history.figures(second)
  rows = []
  for path in (p for p in ones if p in twos):
    one, two = ones[path], twos[path]
    rows.append(('/'.join(path), one, two, one['min'] <= two['median'] <= one['max']))
  return rows


def across_runs(reports):
  """[(name, medians, (max - min) / median of the medians, first run's spread)] of the figures
  every report holds."""
  found = [history.figures(report) for report in reports]
  rows = []
  for path in (p for p in found[0] if all(p in f for f in found[1:])):
    medians = [f[path]['median'] for f in found]
    first = found[0][path]
    rows.append(('/'.join(path), medians, timing.spread(medians)['spread'],
                 (first['max'] - first['min']) / first['median']))
  return rows


def within_earlier_bands(reports):
  """[(k, [(name, band of reports[:k], median of reports[k], within)])] for k from 2 on: each
  run against the lowest–highest round of all the runs before it."""
  found = [history.figures(report) for report in reports]
  results = []
  for k in range(2, len(reports)):
    rows = []
    for path, summary in found[k].items():
      earlier = [f[path] for f in found[:k] if path in f]
      if earlier:
        low, high = history.band(earlier)
        rows.append(('/'.join(path), (low, high), summary['median'],
                     low <= summary['median'] <= high))
    results.append((k, rows))
  return results


def _print_comparison(rows):
  for name, one, two, repeats in rows:
    print(f'{"repeats" if repeats else "DIFFERS"}  {name}: first {timing.cell(one, 3)}, '
          f'second {timing.cell(two, 3)}')
  differing = sum(not repeats for *_, repeats in rows)
  print(f'{len(rows) - differing} of {len(rows)} figures repeat within the first run\'s spread')
  ratios = [repeats for name, _, _, repeats in rows if is_ratio(name)]
  absolute = [repeats for name, _, _, repeats in rows if not is_ratio(name)]
  print(f'ratios within a round: {sum(ratios)} of {len(ratios)} repeat; '
        f'absolute rates and times: {sum(absolute)} of {len(absolute)}')
  return differing


def main(argv):
  if len(argv) < 2:
    errors.exit_with_error('usage: python -m benchmarks.repeatability FIRST.json SECOND.json '
                           '[MORE.json ...]')
  reports = [history.read_report(path, path) for path in argv]
  comparisons = [(path, compare(reports[0], report))
                 for path, report in zip(argv[1:], reports[1:])]
  for path, rows in comparisons:
    if not rows:
      errors.exit_with_error(f'{argv[0]}, {path}: expected two reports of the same benchmark '
                             '(they share no median/min/max figure)')
  differing = 0
  for path, rows in comparisons:
    if len(argv) > 2:
      print(f'{path} against {argv[0]}:')
    differing += _print_comparison(rows)
  if len(argv) > 2:
    print(f'across {len(argv)} runs: the medians, how far they span, the first run\'s spread')
    for name, medians, span, first_spread in across_runs(reports):
      print(f'{name}: {", ".join(f"{m:.3f}" for m in medians)}; span {span:.0%} '
            f'(first run {first_spread:.0%})')
    for k, rows in within_earlier_bands(reports):
      print(f'{argv[k]} against the band of the {k} runs before it:')
      for name, (low, high), median, within in rows:
        if not within:
          print(f'OUTSIDE  {name}: {median:.3f}, band {low:.3f}–{high:.3f}')
      ratios = [within for name, *_, within in rows if is_ratio(name)]
      print(f'{sum(within for *_, within in rows)} of {len(rows)} figures within the band '
            f'(ratios {sum(ratios)} of {len(ratios)})')
  return 1 if differing else 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
