"""Writing one training run's outputs: arrays, metrics, TensorBoard summaries, summary JSON.

A run is recorded into a partial directory and renamed into place only when every file is
written (foundations.paths), so each run directory is either complete or absent.
"""

import os

import tensorflow as tf

from foundations import errors
from foundations import paths
from foundations import pruning
from foundations import save_restore
from lottery_ticket import early_stopping


class TensorBoardWriter:
  """Callable for Trainer.train(on_eval=...): one scalar per metric per evaluation."""

  def __init__(self, log_dir):
    self._writer = tf.summary.create_file_writer(log_dir)

  def __call__(self, row, elapsed_seconds):
    del elapsed_seconds
    with self._writer.as_default(step=row['iteration']):
      for name, value in row.items():
        if name != 'iteration':
          tf.summary.scalar(name, value)

  def close(self):
    self._writer.close()


def layer_summary(masks):
  """{layer: {'remaining': n, 'total': n, 'percent_remaining': %}} and overall percent."""
  per_layer, overall = pruning.percent_remaining(masks)
  remaining = pruning.remaining_weights(masks)
  layers = {name: {'remaining': remaining[name], 'total': int(masks[name].size),
                   'percent_remaining': per_layer[name]} for name in masks}
  return layers, overall


def summarize(result, masks, details):
  """The summary JSON of a finished run: `details` plus sparsity and accuracy figures."""
  layers, overall = layer_summary(masks)
  early_stop_iteration, early_stop_accuracy = early_stopping.early_stop(result.history)
  validation_at_init, test_at_init = early_stopping.accuracy_at_start(result.history)
  last = result.history.iloc[-1]
  return dict(
      details,
      status='complete',
      layers=layers,
      percent_remaining=overall,
      early_stop_iteration=early_stop_iteration,
      test_accuracy_at_early_stop=early_stop_accuracy,
      final_test_accuracy=float(last['test_accuracy']),
      final_validation_accuracy=float(last['validation_accuracy']),
      test_accuracy_at_init=test_at_init,  # the masked network at its starting weights
      validation_accuracy_at_init=validation_at_init,
      test_accuracy_at_report_iterations=accuracy_at_iterations(
          result.history, details.get('report_iterations', ())),
      wall_seconds=result.wall_seconds,
      steps_per_second=result.steps_per_second)


def accuracy_at_iterations(history, iterations):
  """{str(iteration): test accuracy there} for each of `iterations` the history evaluated."""
  by_iteration = dict(zip(history['iteration'], history['test_accuracy']))
  return {str(i): float(by_iteration[i]) for i in iterations if i in by_iteration}


def write_run(directory, result, masks, summary, arrays=None):
  """Writes the run's files into `directory` (a partial directory); `arrays` ({file name:
  arrays, or a DataFrame for a .csv}) adds files or replaces the defaults (e.g. final.npz of a
  binarized run)."""
  files = {paths.MASKS: masks, paths.INITIAL_WEIGHTS: result.initial_weights,
           paths.FINAL_WEIGHTS: result.final_weights, **(arrays or {})}
  for name, values in files.items():
    if name.endswith('.csv'):
      save_restore.save_csv(os.path.join(directory, name), values)
    else:
      save_restore.save_arrays(os.path.join(directory, name), values)
  save_restore.save_csv(os.path.join(directory, paths.METRICS), result.history)
  save_restore.save_json(os.path.join(directory, paths.SUMMARY), summary)  # written last


def write_diverged_run(directory, masks, error, details):
  """Records a diverged run: its masks, metrics so far and a summary with status 'diverged'.

  There is no final.npz, so nothing can be pruned from the diverged weights.
  """
  layers, overall = layer_summary(masks)
  save_restore.save_arrays(os.path.join(directory, paths.MASKS), masks)
  save_restore.save_csv(os.path.join(directory, paths.METRICS), error.history)
  save_restore.save_json(os.path.join(directory, paths.SUMMARY), dict(
      details, status='diverged', error=str(error), layers=layers, percent_remaining=overall))


def recorded_summary(final_dir):
  """The summary.json of a run recorded in `final_dir`; raises TrainingDivergedError for a
  diverged one (a protocol must not prune or continue from it)."""
  summary = save_restore.load_json_object(os.path.join(final_dir, paths.SUMMARY))
  if summary.get('status') == 'diverged':
    raise errors.TrainingDivergedError(
        f'{final_dir} diverged earlier ({summary.get("error")}); delete it to retry')
  return summary


def final_weights_path(run_dir):
  """The weights a recorded run's pruning ranks: final.npz, or a binarized run's latent weights
  (final_latent.npz; its final.npz holds the ternary kernels it computed with)."""
  latent = os.path.join(run_dir, paths.FINAL_LATENT_WEIGHTS)
  return latent if os.path.isfile(latent) else os.path.join(run_dir, paths.FINAL_WEIGHTS)

