"""Reading an experiment directory into one table: a row per run and evaluation iteration.

The runners write {experiment_dir}/trial{N}/level{L}/{kind}/,
.../trial{N}/{one_shot,one_shot_{criterion},tfmot_pruning,edge_popup,biprop}/remaining{P}/
and .../trial{N}/train/, each with summary.json (written last) and metrics.csv. Hidden
'.NAME.partial' directories are runs in progress; they, runs whose files cannot be read and runs
whose summary has a status other than 'complete' (e.g. 'diverged') are skipped and listed in
`df.attrs['skipped']` as (path, reason) pairs.
"""

import json
import os
import re

import pandas as pd

from foundations import early_bird
from foundations import errors
from foundations import paths
from lottery_ticket.protocols import catalog

METRIC_COLUMNS = ('train_loss', 'train_accuracy', 'validation_loss', 'validation_accuracy',
                  'test_loss', 'test_accuracy')
RUN_COLUMNS = ('run', 'trial', 'level', 'kind', 'percent_remaining')
# Recorded by some runs only (dense runs: early_bird's mask distance); NaN for the others.
OPTIONAL_COLUMNS = (early_bird.COLUMN,)
COLUMNS = RUN_COLUMNS + ('iteration',) + METRIC_COLUMNS + OPTIONAL_COLUMNS
IN_PROGRESS = 'in progress'
_TRIAL = re.compile(r'trial(\d+)$')
_PARTIAL = re.compile(r'\.(.+)\.partial$')


class NotComplete(ValueError):
  """A run directory whose summary says it did not finish normally (e.g. it diverged)."""


def _children(directory):
  return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                if os.path.isdir(os.path.join(directory, name)))


def trial_dirs(experiment_dir):
  """{trial number: directory} of the trial*/ directories of `experiment_dir`."""
  matches = ((_TRIAL.match(os.path.basename(d)), d) for d in _children(experiment_dir))
  return {int(match.group(1)): d for match, d in matches if match}


def find_run_dirs(experiment_dir):
  """(run directories, partial directories) under the trial*/ directories, in sorted order."""
  runs, partial = [], []
  for _, trial_dir in sorted(trial_dirs(experiment_dir).items()):
    candidates = []
    for group in _children(trial_dir):
      holds = catalog.run_group(os.path.basename(group))  # the protocols' naming rules
      if holds == 'runs':
        candidates.extend(_children(group))
      elif holds == 'groups':
        for inner in _children(group):
          candidates.extend(_children(inner))
      elif holds == 'run':
        candidates.append(group)
    for candidate in candidates:
      (partial if _PARTIAL.match(os.path.basename(candidate)) else runs).append(candidate)
  return runs, partial


def run_kind(summary):
  """'lottery', 'reinit', 'reinit_sample_original', 'random_prune', 'one_shot',
  'tfmot_pruning', 'edge_popup', 'biprop' (learned masks), 'train', ...; another mask criterion
  than magnitude is appended to lottery and one_shot ('lottery_movement'), another reinit mode
  than glorot to reinit."""
  name = summary['experiment']
  protocol = catalog.REGISTRY.get(name)
  return protocol.kind_of(summary.get) if protocol else name


def read_run(run_dir, experiment_dir):
  """One run's metric rows with its identifying columns, and its summary.json.

  Raises:
    NotComplete: the summary's status is not 'complete'.
    ValueError, OSError, KeyError: a file is missing, malformed or lacks a column or key.
  """
  with open(os.path.join(run_dir, paths.SUMMARY)) as f:
    summary = json.load(f)
  if not isinstance(summary, dict):
    raise ValueError(f'{paths.SUMMARY} holds a JSON {type(summary).__name__}, not an object')
  status = summary.get('status', 'complete')  # e.g. 'diverged': no result to analyse
  if status != 'complete':
    error = summary.get('error')
    raise NotComplete(f'{status}: {error}' if error else str(status))
  metrics = pd.read_csv(os.path.join(run_dir, paths.METRICS))
  missing = [c for c in ('iteration',) + METRIC_COLUMNS if c not in metrics.columns]
  if missing:
    raise ValueError(f'{paths.METRICS} lacks columns {missing}')
  if metrics.empty:
    raise ValueError(f'{paths.METRICS} has no rows')
  metrics = metrics.reindex(columns=['iteration', *METRIC_COLUMNS, *OPTIONAL_COLUMNS])
  metrics = metrics.apply(pd.to_numeric, errors='raise')
  level = summary.get('level')
  identity = dict(run=os.path.relpath(run_dir, experiment_dir), trial=int(summary['trial']),
                  level=None if level is None else int(level), kind=run_kind(summary),
                  percent_remaining=float(summary['percent_remaining']))
  rows = metrics.assign(**identity)
  return rows[list(COLUMNS)], summary


def load_experiment(experiment_dir):
  """Every complete run's metrics under `experiment_dir` as one DataFrame (columns: COLUMNS).

  Args:
    experiment_dir: the --output_dir the runners wrote to.

  Returns:
    A DataFrame with one row per (run, evaluation iteration), sorted by trial, kind, level,
    percent remaining and iteration; `level` is missing (NA) for one-shot and train runs.
    `attrs['skipped']` lists (path, reason) for runs in progress and unreadable runs;
    `attrs['networks']` and `attrs['datasets']` list the values found in summary.json,
    `attrs['trials']` the numbers of all trial directories, complete or not, and
    `attrs['report_iterations']` the iterations the runs report accuracy at (deep networks).

  Raises:
    errors.UserInputError: the directory is missing, holds no trial*/ runs, or no complete ones.
  """
  if not os.path.isdir(experiment_dir):
    raise errors.UserInputError(f'{experiment_dir}: no such directory')
  run_dirs, partial_dirs = find_run_dirs(experiment_dir)
  skipped = [(os.path.relpath(d, experiment_dir), IN_PROGRESS) for d in partial_dirs]
  if not run_dirs and not partial_dirs:
    raise errors.UserInputError(f'{experiment_dir}: no trial*/ run directories '
                                '(not an experiment output directory?)')
  tables, networks, datasets, report_iterations = [], set(), set(), set()
  for run_dir in run_dirs:
    relative = os.path.relpath(run_dir, experiment_dir)
    if not os.path.isfile(os.path.join(run_dir, paths.SUMMARY)):
      skipped.append((relative, f'incomplete: no {paths.SUMMARY}'))
      continue
    try:
      rows, summary = read_run(run_dir, experiment_dir)
    except NotComplete as e:
      skipped.append((relative, str(e)))
      continue
    except (OSError, ValueError, KeyError, TypeError, pd.errors.ParserError) as e:
      reason = f'missing key {e}' if isinstance(e, KeyError) else str(e).splitlines()[0]
      skipped.append((relative, f'unreadable: {reason}'))
      continue
    tables.append(rows)
    networks.add(str(summary.get('network')))
    datasets.add(str(summary.get('dataset')))
    report_iterations.update(int(i) for i in summary.get('report_iterations') or ())
  if not tables:
    raise errors.UserInputError(f'{experiment_dir}: no complete runs yet '
                                f'({len(skipped)} in progress or unreadable)')
  df = pd.concat(tables, ignore_index=True)
  df['level'] = df['level'].astype('Int64')
  df = df.sort_values(['trial', 'kind', 'level', 'percent_remaining', 'iteration'],
                      ignore_index=True)
  df.attrs.update(skipped=sorted(skipped), networks=sorted(networks), datasets=sorted(datasets),
                  trials=sorted(trial_dirs(experiment_dir)),
                  report_iterations=sorted(report_iterations))
  return df
