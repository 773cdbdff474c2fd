"""A progress line a few times a minute: where a long run is, how fast, and how it is doing."""

import datetime
import sys
import time

from lottery_ticket.analysis import verdicts


class Progress:
  """Callable for Trainer.train(on_eval=...); prints at most every `interval_seconds`."""

  def __init__(self, label, training_iterations, interval_seconds=15.0, stream=None):
    self.label = label
    self.training_iterations = training_iterations
    self.interval_seconds = interval_seconds
    self.stream = stream or sys.stdout
    self._last_print = time.monotonic()

  def __call__(self, row, elapsed_seconds):
    now = time.monotonic()
    done = row['iteration'] >= self.training_iterations
    if not done and now - self._last_print < self.interval_seconds:
      return
    self._last_print = now
    steps_per_second = row['iteration'] / max(elapsed_seconds, 1e-9)
    eta = (self.training_iterations - row['iteration']) / max(steps_per_second, 1e-9)
    print(f'[{self.label}] iteration {row["iteration"]}/{self.training_iterations} '
          f'{steps_per_second:.0f} steps/s ETA {datetime.timedelta(seconds=round(eta))} '
          f'validation {100 * row["validation_accuracy"]:.2f}% '
          f'test {100 * row["test_accuracy"]:.2f}%', file=self.stream, flush=True)


def print_done(label, summary):
  """The line that ends a run: sparsity, early stop, accuracy there and at the end, time."""
  print(f'[{label}] done: {summary["percent_remaining"]:.1f}% remaining, early stop at '
        f'{summary["early_stop_iteration"]}, test accuracy there '
        f'{100 * summary["test_accuracy_at_early_stop"]:.2f}%, final '
        f'{100 * summary["final_test_accuracy"]:.2f}%, {summary["wall_seconds"]:.0f} s',
        flush=True)


def verdict(summary, dense_summary, tolerance_points=verdicts.DEFAULT_TOLERANCE_POINTS):
  """The paper's question asked of one pruned run: does it match the dense network (test
  accuracy at early stop at most `tolerance_points` below, as the report judges) and does it
  stop earlier?"""
  accuracy, dense = (100 * s['test_accuracy_at_early_stop'] for s in (summary, dense_summary))
  iteration, dense_iteration = summary['early_stop_iteration'], dense_summary['early_stop_iteration']
  difference = accuracy - dense
  words = (f'matches the dense network (within {tolerance_points:g} points)'
           if verdicts.matches(difference, tolerance_points) else
           f'falls {-difference:.2f} points short of the dense network')
  change = verdicts.early_stop_change_percent(iteration, dense_iteration)
  pace = (f'stops {-change:.0f}% earlier' if change < 0 else
          'stops at the same iteration' if change == 0 else f'stops {change:.0f}% later')
  return (f'the {summary["percent_remaining"]:.1f}% ticket {words}: test accuracy at early '
          f'stop {accuracy:.2f}% vs {dense:.2f}%; {pace} ({iteration:,} vs {dense_iteration:,})')
