"""The shared set-up of every runner: data, model, trainer, and training one recorded run.

An `Experiment` is built once per runner invocation. Everything that can fail because of user
input (flags, output directory, dataset files, mask files) fails while it is built or before a
run starts training, before anything is written. A Ctrl-C or SIGTERM during a run saves a
checkpoint and ends it with interrupts.Interrupted (see foundations.interrupts).
"""

import os

import numpy as np
import tf_keras as keras

from foundations import batching
from foundations import checkpointing
from foundations import errors
from foundations import interrupts
from foundations import locking
from foundations import model_state
from foundations import paths
from foundations import save_restore
from foundations import trainer as trainer_lib
from lottery_ticket import config as config_lib
from lottery_ticket import preflight
from lottery_ticket import progress
from lottery_ticket import recording


class Experiment:
  """Data, network and trainer for one ExperimentConfig."""

  def __init__(self, config, spec, dataset=None):
    """Builds the network; `dataset` is preflight.prepare(config)'s result, or None to run it."""
    self.config = config
    self.spec = spec
    self.dataset = preflight.prepare(config) if dataset is None else dataset
    # Not tf.config.experimental.enable_op_determinism(): it refuses XLA's MaxPool gradient even
    # on CPU. XLA's CPU kernels are deterministic for a fixed seed (tests check runs bit for bit).
    keras.backend.experimental.enable_tf_random_generator()  # checkpointable dropout RNG
    keras.utils.set_random_seed(config.seed_for('dropout'))
    dropout_rate = spec.dropout_rate if config.dropout else 0.0
    self.model = spec.build(self.dataset.input_shape, self.dataset.num_classes, dropout_rate)
    self._trainer = None
    self._lock = None  # taken before the first write

  @property
  def trainer(self):
    """The compiled trainer, created on first use (it copies the dataset to the device)."""
    if self._trainer is None:
      self._trainer = trainer_lib.Trainer(
          self.model, keras.optimizers.Adam(self.config.learning_rate),
          self.dataset.train, self.dataset.validation, self.dataset.test,
          jit_compile=self.config.jit_compile)
    return self._trainer

  def original_initial_weights(self):
    """θ0 of this trial: the network's own initializers, seeded by --seed and --trial."""
    return model_state.sample_initial_weights(self.model, self.config.seed_for('init'))

  def full_masks(self):
    return {name: np.ones(shape, np.float32)
            for name, shape in model_state.expected_mask_shapes(self.model).items()}

  def load_masks(self, path):
    masks = save_restore.load_arrays(path)
    model_state.check_masks(masks, self.model, path)
    return {name: mask.astype(np.float32) for name, mask in masks.items()}

  def load_weights(self, path):
    weights = save_restore.load_arrays(path)
    model_state.check_arrays(weights, model_state.expected_weight_shapes(self.model), path)
    return weights

  def run_dir(self, level, experiment):
    return paths.run_dir(self.config.output_dir, self.config.trial, level, experiment)

  def _claim_output_dir(self):
    """Before the first write: lock --output_dir and check it holds this experiment's settings."""
    if self._lock is None:
      try:
        self._lock = locking.DirectoryLock(self.config.output_dir)
      except OSError as e:
        raise errors.UserInputError(
            errors.os_error_message(e, 'output_dir', self.config.output_dir)) from None
      config_lib.check_settings(self.config)  # again: another process may have written it
      config_lib.record_settings(self.config)

  def close(self):
    """Releases --output_dir for other processes (process exit releases it too)."""
    if self._lock is not None:
      self._lock.release()
      self._lock = None

  @interrupts.deferred()
  def train(self, final_dir, masks, initial_weights, label, **details):
    """Trains one run from `initial_weights` under `masks`, records it in `final_dir`.

    Continues from the run's checkpoint if an interrupted attempt left one. A diverged run is
    recorded (summary status 'diverged', no final weights) and raises TrainingDivergedError.
    A stop request (Ctrl-C, SIGTERM) saves a checkpoint after the current chunk of iterations,
    or lets a finished run be recorded, and raises interrupts.Interrupted saying where.

    Returns:
      (summary dict, TrainingResult).
    """
    config = self.config
    partial = paths.partial_dir(final_dir)
    checkpointer = checkpointing.Checkpointer(
        os.path.join(partial, paths.CHECKPOINT), config.checkpoint_interval)
    resume = checkpointer.load() if os.path.isdir(partial) else None
    if resume is not None:
      self.trainer.check_state(resume, checkpointer.path)  # before anything is written
    self._claim_output_dir()
    if resume is None:
      paths.start(final_dir)
    else:
      print(f'[{label}] resuming from the checkpoint at iteration {resume.iteration}', flush=True)
    tensorboard = recording.TensorBoardWriter(os.path.join(partial, paths.TENSORBOARD))
    report = progress.Progress(label, config.training_iterations, config.progress_seconds)

    def on_eval(row, elapsed_seconds):
      tensorboard(row, elapsed_seconds)
      report(row, elapsed_seconds)

    details = dict(
        details, network=self.spec.name, dataset=config.dataset,
        dataset_source=self.dataset.source, trial=config.trial, seed=config.seed,
        training_iterations=config.training_iterations, batch_size=config.batch_size,
        learning_rate=config.learning_rate, eval_interval=config.eval_interval,
        dropout=config.dropout)
    try:
      result = self.trainer.train(
          initial_weights, masks, config.training_iterations,
          batching.BatchOrder(self.trainer.num_train_examples, config.batch_size,
                              config.seed_for('data_order')),
          config.eval_interval, on_eval, resume=resume, checkpoint=checkpointer)
    except errors.TrainingDivergedError as e:
      tensorboard.close()  # before the directory is renamed
      recording.write_diverged_run(partial, masks, e, details)
      paths.commit(partial, final_dir)
      raise errors.TrainingDivergedError(f'{label}: {e} (recorded in {final_dir})') from None
    except interrupts.Interrupted as e:
      raise interrupts.Interrupted(
          e.signal_number, f'[{label}] interrupted by {e.signal_name} at iteration '
          f'{e.iteration}/{config.training_iterations}; checkpoint saved') from None
    finally:
      tensorboard.close()
    summary = recording.summarize(result, masks, details)
    recording.write_run(partial, result, masks, summary)
    paths.commit(partial, final_dir)
    print(f'[{label}] done: {summary["percent_remaining"]:.1f}% remaining, early stop at '
          f'{summary["early_stop_iteration"]}, test accuracy there '
          f'{100 * summary["test_accuracy_at_early_stop"]:.2f}%, final '
          f'{100 * summary["final_test_accuracy"]:.2f}%, {summary["wall_seconds"]:.0f} s',
          flush=True)
    interrupts.raise_if_requested(f'[{label}] interrupted by {{signal}} as it finished; run saved')
    return summary, result
