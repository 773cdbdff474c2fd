"""The practitioner's baseline: gradual magnitude pruning (Zhu & Gupta 2017) with
tensorflow-model-optimization, recorded as a normal run beside winning tickets.

For each --percent_remaining P the network is trained once, from the trial's θ0 and in the
trial's minibatch order, with the paper's optimizer, batch size and iteration budget, while
tfmot's `prune_low_magnitude` removes weights on a PolynomialDecay schedule (cubic, from 0 to
each layer's final sparsity). Each layer ends with the weights a winning ticket of P% keeps
there (exactly, for sizes on the iterative-pruning ladder; else one-shot pruning's per-layer
shares), so the two compare at equal sparsity layer by layer. Pruning starts at iteration 0
and the masks are updated every 100 iterations until 3/4 of the budget (more often and earlier
in very short runs); the last quarter trains the final mask.
Validation and test are evaluated every --eval_interval iterations, as for every run.

The run directory, {output_dir}/trial{N}/tfmot_pruning/remaining{P}/, holds the usual files;
masks.npz is read back from the pruned kernels. Runs are not checkpointed: an interrupted run
starts again from the beginning when the command is re-run.
"""

import time

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from foundations import batching
from foundations import errors
from foundations import interrupts
from foundations import optimizers
from foundations import paths
from foundations import pruning
from foundations import tfmot_models
from foundations import trainer as trainer_lib
from lottery_ticket import progress
from lottery_ticket import recording
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols.common import completed

END_FRACTION = 0.75  # pruning ends at this fraction of the budget
FREQUENCY_ITERATIONS = 100  # iterations between mask updates
POWER = 3  # Zhu & Gupta's cubic schedule


def schedule_steps(training_iterations):
  """(begin, end, frequency) in iterations: from 0 to ~3/4 of the budget, every 100 iterations
  (every tenth of the pruning span in runs too short for that); end is a multiple of frequency,
  so the final sparsity is reached exactly."""
  span = int(END_FRACTION * training_iterations)
  frequency = max(1, min(FREQUENCY_ITERATIONS, span // 10))
  return 0, max(frequency, span // frequency * frequency), frequency


def layer_sparsities(experiment, percent_remaining, max_rounds=100):
  """{layer: final sparsity} of a winning ticket of `percent_remaining`.

  If iterative pruning reaches that size (to 0.1%, the report's precision) after some number of
  rounds, the ticket's exact per-layer counts (pruning counts do not depend on the weights);
  otherwise the per-layer shares of one-shot pruning to that size (pruning.one_shot_rates).
  """
  masks = experiment.full_masks()
  zeros = {f'{name}/kernel': np.zeros_like(mask) for name, mask in masks.items()}
  for _ in range(max_rounds):
    overall = pruning.percent_remaining(masks)[1]
    if round(overall, 1) == round(percent_remaining, 1) or overall < percent_remaining:
      break
    masks = experiment.prune(masks, zeros)
  if round(pruning.percent_remaining(masks)[1], 1) != round(percent_remaining, 1):
    masks = experiment.one_shot_pruner(percent_remaining)(experiment.full_masks(), zeros)
  return {name: 1.0 - float(mask.sum()) / mask.size for name, mask in masks.items()}


class _Evaluate(keras.callbacks.Callback):
  """After every 'epoch' of eval_interval iterations: a metrics row, progress, stop requests."""

  def __init__(self, validation, test, eval_interval, on_eval):
    super().__init__()
    self.validation = validation
    self.test = test
    self.eval_interval = eval_interval
    self.on_eval = on_eval
    self.rows = []
    self.start_seconds = time.monotonic()

  def on_train_begin(self, logs=None):
    """The starting weights' row (no training loss), as the compiled trainer records it."""
    validation = self.model.evaluate(*self.validation, batch_size=1000, verbose=0,
                                     return_dict=True)
    test = self.model.evaluate(*self.test, batch_size=1000, verbose=0, return_dict=True)
    self.rows.append(dict(iteration=0, train_loss=float('nan'), train_accuracy=float('nan'),
                          validation_loss=validation['loss'],
                          validation_accuracy=validation['accuracy'], test_loss=test['loss'],
                          test_accuracy=test['accuracy']))

  def on_epoch_end(self, epoch, logs=None):
    test = self.model.evaluate(*self.test, batch_size=1000, verbose=0, return_dict=True)
    row = dict(iteration=(epoch + 1) * self.eval_interval, train_loss=logs['loss'],
               train_accuracy=logs['accuracy'], validation_loss=logs['val_loss'],
               validation_accuracy=logs['val_accuracy'], test_loss=test['loss'],
               test_accuracy=test['accuracy'])
    self.rows.append(row)
    self.on_eval(row, time.monotonic() - self.start_seconds)
    if interrupts.requested() or not np.isfinite(logs['loss']):
      self.model.stop_training = True


def _fit(experiment, model, on_eval):
  """Trains the wrapped model for the budget; returns (metrics DataFrame, seconds)."""
  config = experiment.config
  images, labels = experiment.dataset.train
  order = batching.BatchOrder(len(labels), config.batch_size, config.seed_for('data_order'))
  images, labels = tf.constant(images), tf.constant(labels.astype(np.int32))
  batches = tf.data.Dataset.from_tensor_slices(order.indices(0, config.training_iterations))
  batches = batches.map(lambda i: (tf.gather(images, i), tf.gather(labels, i))).prefetch(2)
  evaluate = _Evaluate(experiment.dataset.validation, experiment.dataset.test,
                       config.eval_interval, on_eval)
  model.compile(optimizers.create(config.optimizer, config.learning_rate, config.momentum),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=['accuracy'])
  start = time.monotonic()
  model.fit(batches, epochs=config.training_iterations // config.eval_interval,
            steps_per_epoch=config.eval_interval, validation_data=experiment.dataset.validation,
            validation_batch_size=1000, verbose=0,
            callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), evaluate])
  history = pd.DataFrame(evaluate.rows, columns=trainer_lib.METRIC_COLUMNS)
  return history, time.monotonic() - start


def _train(experiment, percent, final_dir, label):
  """Trains and records one tfmot run pruned to `percent` remaining."""
  config = experiment.config
  begin, end, frequency = schedule_steps(config.training_iterations)
  sparsities = layer_sparsities(experiment, percent)
  model = tfmot_models.wrap_for_pruning(experiment.model, {
      name: tfmot.sparsity.keras.PolynomialDecay(0.0, sparsity, begin, end, POWER, frequency)
      for name, sparsity in sparsities.items() if sparsity > 0})
  initial = experiment.original_initial_weights()
  tfmot_models.set_weights(model, initial)
  experiment.claim_output_dir()
  partial = paths.start(final_dir)
  tensorboard = recording.TensorBoardWriter(f'{partial}/{paths.TENSORBOARD}')
  report = progress.Progress(label, config.training_iterations, config.progress_seconds)

  def on_eval(row, elapsed_seconds):
    tensorboard(row, elapsed_seconds)
    report(row, elapsed_seconds)

  with interrupts.deferred():
    try:
      history, seconds = _fit(experiment, model, on_eval)
    finally:
      tensorboard.close()
  details = experiment.run_details(
      protocol='tfmot_pruning', target_percent_remaining=percent,
      pruning_schedule=dict(schedule='PolynomialDecay', initial_sparsity=0.0,
                            final_sparsity=sparsities, begin_step=begin, end_step=end,
                            frequency=frequency, power=POWER))
  stopped = interrupts.requested()
  if stopped:
    raise interrupts.Interrupted(
        stopped, f'[{label}] interrupted by {interrupts.Interrupted(stopped).signal_name} at '
        f'iteration {history["iteration"].iloc[-1]}/{config.training_iterations}; tfmot '
        'runs are not checkpointed, re-running the command starts it again')
  stripped = tfmot_models.strip(model)
  masks = dict(experiment.full_masks(), **tfmot_models.nonzero_masks(stripped, [
      name for name, sparsity in sparsities.items() if sparsity > 0]))
  if history['iteration'].iloc[-1] < config.training_iterations // config.eval_interval * (
      config.eval_interval):
    error = errors.TrainingDivergedError(f'training loss {history["train_loss"].iloc[-1]}')
    error.history = history
    recording.write_diverged_run(partial, masks, error, details)
    paths.commit(partial, final_dir)
    raise errors.TrainingDivergedError(f'{label}: {error} (recorded in {final_dir})')
  final = tfmot_models.get_weights(stripped)
  result = trainer_lib.TrainingResult(initial, final, history, seconds,
                                      config.training_iterations / seconds)
  summary = recording.summarize(result, masks, details)
  recording.write_run(partial, result, masks, summary)
  paths.commit(partial, final_dir)
  progress.print_done(label, summary)


def tfmot_pruning(experiment):
  """Gradual magnitude pruning with tfmot to each --percent_remaining (see the module doc)."""
  config = experiment.config
  for percent in config.percent_remaining:
    layer_sparsities(experiment, percent)  # every target reachable, before anything trains
  for percent, run in zip(config.percent_remaining,
                          catalog.get('tfmot_pruning').run_dirs(config)):
    if completed(run.run_dir) is None:
      claim = experiment.claim_run(run.run_dir)  # one process per run (locking.RunClaim)
      try:
        if not paths.is_complete(run.run_dir):  # else another process finished it meanwhile
          _train(experiment, percent, run.run_dir, run.label)
      finally:
        claim.release()
