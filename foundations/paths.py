"""Where a run's files live, and the partial-directory-then-rename way of finishing a run.

Layout: {output_dir}/trial{N}/level{L}/{experiment}/ for level-based runs,
{output_dir}/trial{N}/train/ for single training runs,
{output_dir}/trial{N}/{one_shot,tfmot_pruning,edge_popup,biprop}/remaining{P}/ for runs pruned
to P% (edge_popup, biprop: masks learned on frozen weights, lottery_ticket.supermask) and
{output_dir}/trial{N}/instability/{masks}/spawn{k}/ for instability analyses. Each run directory
holds the files named below. A run is written into a hidden '.{name}.partial' sibling and renamed into place
when complete, so a run directory exists only if the whole run finished.
"""

import os
import shutil

MASKS = 'masks.npz'
MASK_UPDATES = 'mask_updates.csv'  # dynamic sparse training: the mask's moves
INITIAL_WEIGHTS = 'initial.npz'
FINAL_WEIGHTS = 'final.npz'  # the kernels the network computes with (binarized: α·sign(w)·m)
FINAL_LATENT_WEIGHTS = 'final_latent.npz'  # --binarize: the latent real weights pruning ranks
SCORES = 'scores.npz'  # supermask runs: the final scores
METRICS = 'metrics.csv'
SUMMARY = 'summary.json'
TENSORBOARD = 'tensorboard'
CHECKPOINT = 'checkpoint.npz'  # only in partial directories


def trial_dir(output_dir, trial):
  return os.path.join(output_dir, f'trial{trial}')


def run_dir(output_dir, trial, level, experiment):
  return os.path.join(trial_dir(output_dir, trial), f'level{level}', experiment)


def control_name(name, control_trial):
  """The run directory name of control number `control_trial` of a ticket (e.g. 'reinit'):
  `name` for the first, '{name}_control{k}' for k >= 2."""
  return name if control_trial == 1 else f'{name}_control{control_trial}'


def remaining_dir(output_dir, trial, experiment, percent_remaining):
  """{output_dir}/trial{N}/{experiment}/remaining{P}/: a run pruned to P% (one-shot, tfmot,
  learned masks)."""
  return os.path.join(trial_dir(output_dir, trial), experiment, f'remaining{percent_remaining:g}')


def instability_dir(output_dir, trial, mask_name, spawn_iteration):
  return os.path.join(trial_dir(output_dir, trial), 'instability', mask_name,
                      f'spawn{spawn_iteration}')


def partial_dir(final_dir):
  parent, name = os.path.split(os.path.normpath(final_dir))
  return os.path.join(parent, f'.{name}.partial')


def is_complete(final_dir):
  return os.path.isfile(os.path.join(final_dir, SUMMARY))


def start(final_dir):
  """Creates an empty partial directory for `final_dir` (discarding a stale one) and returns it."""
  partial = partial_dir(final_dir)
  shutil.rmtree(partial, ignore_errors=True)
  os.makedirs(partial)
  return partial


def commit(partial, final_dir):
  """Renames a finished partial directory into place, replacing an older run directory."""
  checkpoint = os.path.join(partial, CHECKPOINT)
  if os.path.exists(checkpoint):
    os.remove(checkpoint)
  if os.path.exists(final_dir):
    shutil.rmtree(final_dir)
  os.rename(partial, final_dir)
