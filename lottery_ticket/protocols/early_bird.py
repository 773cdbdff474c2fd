"""Early-bird tickets (You et al., ICLR 2020; DESIGN.md §16): iterative pruning whose searches stop
as soon as the mask has emerged.

Level L's search trains the level-L network from θ0 (or θk) and stops at the first evaluation
where the largest distance between consecutive next-pruning masks over the last 5 evaluations is
below --early_bird_epsilon (foundations.early_bird); level L+1's mask is drawn from the weights
there, and that ticket is also trained once to the full budget (what the report compares with
IMP's ticket of the same level). Searches: level{L}/lottery_early_bird/; tickets:
level{L}/early_bird_ticket/ (protocols.naming.early_bird_runs), beside IMP's runs of the same
experiment directory.
"""

import os

import numpy as np
import pandas as pd

from foundations import early_bird
from foundations import paths
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols.common import completed


def _stop_rule(epsilon):
  def emerged(rows):
    return early_bird.emerged([row.get(early_bird.COLUMN, np.nan) for row in rows],
                              epsilon) is not None
  return emerged


def early_bird_lottery(experiment):
  """Every level's early-bird search and the ticket drawn from it, in order."""
  config = experiment.config
  epsilon = config.early_bird_epsilon
  runs = catalog.get('lottery').run_dirs(config)
  original = experiment.original_initial_weights()
  start_weights, start = experiment.start_point(original)
  masks = experiment.full_masks()
  for level in range(config.levels):
    search, ticket = runs[2 * level], runs[2 * level + 1]
    begin, at = (original, 0) if level == 0 else (start_weights, start)
    if completed(search.run_dir) is None:
      _, result = experiment.train_recorded_run(
          search.run_dir, masks, begin, search.label, start_iteration=at, protocol='lottery',
          level=level, early_bird='search', early_bird_epsilon=epsilon,
          tracker=experiment.mask_tracker(masks, begin, level + 1), stop_when=_stop_rule(epsilon))
      weights, stopped = result.final_weights, int(result.history['iteration'].iloc[-1])
      emerged = stopped < config.training_iterations
      print(f'[{search.label}] early-bird: ' + (f'emerged at iteration {stopped}' if emerged else
            'did not emerge; searched the full budget'), flush=True)
    else:
      weights = experiment.load_final_weights(search.run_dir)
      stopped = int(pd.read_csv(os.path.join(search.run_dir, paths.METRICS))['iteration'].iloc[-1])
    masks = experiment.prune(masks, weights, start_weights, level + 1)
    if completed(ticket.run_dir) is None:
      experiment.train_recorded_run(
          ticket.run_dir, masks, start_weights, ticket.label, start_iteration=start,
          protocol='lottery', level=level + 1, early_bird='ticket', early_bird_epsilon=epsilon,
          search_stopped_at_iteration=stopped)
