"""What every protocol does before a run: skip a run that is already recorded."""

from foundations import locking
from foundations import paths
from lottery_ticket import recording


def completed(final_dir):
  """The summary of a finished run in final_dir, or None; a diverged run stops the protocol."""
  if not paths.is_complete(final_dir):
    return None
  locking.remove_abandoned_claim(final_dir)  # a claimant killed as it finished
  summary = recording.recorded_summary(final_dir)
  print(f'{final_dir}: already complete, not retrained', flush=True)
  return summary
