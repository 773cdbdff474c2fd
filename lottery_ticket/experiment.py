"""The shared set-up of every runner: data, model, trainer, and training one recorded run.

An `Experiment` is built once per runner invocation. Everything that can fail because of user
input (flags, output directory, dataset files, mask files) fails while it is built or before a
run starts training, before anything is written. A Ctrl-C or SIGTERM during a run saves a
checkpoint and ends it with interrupts.Interrupted (see foundations.interrupts).
"""

import dataclasses
import os

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras as keras

from foundations import batching
from foundations import checkpointing
from foundations import distribution
from foundations import errors
from foundations import interrupts
from foundations import locking
from foundations import mask_criteria
from foundations import masked_layers
from foundations import model_state
from foundations import optimizers
from foundations import paths
from foundations import pruning
from foundations import save_restore
from foundations import trainer as trainer_lib
from lottery_ticket import config as config_lib
from lottery_ticket import preflight
from lottery_ticket import progress
from lottery_ticket import recording
from lottery_ticket.protocols import spec as spec_lib


TRAIN_SUBSET_SIZE = 10_000  # training examples on which instability measures train error


def default_jit_compile(spec):
  """XLA on a GPU (its convolutions are fast there); on CPU, the network's own choice."""
  return True if tf.config.list_physical_devices('GPU') else spec.jit_compile


def channel_statistics(images):
  """(mean, std) per channel of uint8 images scaled to [0, 1], for input normalisation."""
  scaled = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
  return scaled.mean(axis=0), np.maximum(scaled.std(axis=0), 1e-3)


class Experiment:
  """Data, network and trainer for one ExperimentConfig."""

  def __init__(self, config, spec, dataset=None):
    """Builds the network; `dataset` is preflight.prepare(config)'s result, or None to run it.

    A --jit_compile left to its default (None) is decided here, by the device; the settings
    check runs again with the decided value before anything is written (claim_output_dir).
    """
    self.dataset = preflight.prepare(config) if dataset is None else dataset
    if config.jit_compile is None:
      config = dataclasses.replace(config, jit_compile=default_jit_compile(spec))
    self.config = config
    self.spec = spec
    # --distribute: the strategy whose scope holds the model, optimizer and data (None: one device)
    self.strategy = distribution.create_strategy(config.distribute, config.distribute_devices,
                                                 config.cpu_devices, config.batch_size)
    # Not tf.config.experimental.enable_op_determinism(): it refuses XLA's MaxPool gradient even
    # on CPU. XLA's CPU kernels are deterministic for a fixed seed (tests check runs bit for bit).
    keras.backend.experimental.enable_tf_random_generator()  # checkpointable dropout RNG
    keras.utils.set_random_seed(config.seed_for('dropout'))
    if config.mixed_precision:
      keras.mixed_precision.set_global_policy('mixed_float16')
    self.model = self._build_model()
    self._trainer = None
    self._settings_recorded = False  # experiment.json checked and written before the first write
    self._reseed = False  # reconfigured for another trial: the trainer needs its seeds
    self.trained_runs = 0  # runs this experiment trained and recorded (not found recorded)

  def _build_model(self):
    spec, config = self.spec, self.config
    dropout_rate = spec.dropout_rate if config.dropout else 0.0
    extra = {}
    if spec.normalize_inputs:
      extra['channel_statistics'] = channel_statistics(self.dataset.train[0])
    with distribution.scope(self.strategy):
      model = spec.build(self.dataset.input_shape, self.dataset.num_classes, dropout_rate,
                         **extra)
      if config.protocol.model_transform:  # e.g. supermask: frozen weights, trainable scores
        model = spec_lib.resolve(config.protocol.model_transform)(model)
    if self.strategy is not None:  # batch statistics of the global batch, as on one device
      distribution.synchronize_batch_norm(model)
    masked_layers.set_binarize(model, config.binarize)  # before the trainer traces it
    return model

  @property
  def trainer(self):
    """The compiled trainer, created on first use (it copies the dataset to the device)."""
    if self._trainer is None:
      config = self.config
      with distribution.scope(self.strategy):
        optimizer = optimizers.create(config.optimizer, config.learning_rate, config.momentum)
      if config.mixed_precision:
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
      self._trainer = trainer_lib.Trainer(
          self.model, optimizer, self.dataset.train, self.dataset.validation, self.dataset.test,
          jit_compile=config.jit_compile,
          schedule=optimizers.Schedule(config.learning_rate, config.lr_milestones,
                                       config.lr_gamma, config.warmup_iterations,
                                       config.lr_schedule, config.training_iterations),
          weight_decay=config.weight_decay,
          augment_seed=config.seed_for('augment') if config.augment else None,
          extra_splits=self._extra_splits(config.protocol.extra_splits),
          strategy=self.strategy)
      self._extra_splits_hook = config.protocol.extra_splits
      if self._reseed:
        self._retarget_trainer()
    return self._trainer

  def _extra_splits(self, hook):
    """The trainer's extra splits from a catalog hook ('module:function'), or None."""
    return spec_lib.resolve(hook)(self) if hook else None

  def train_subset(self, size=TRAIN_SUBSET_SIZE):
    """A fixed subset of the training split (its first `size` examples), for train error."""
    images, labels = self.dataset.train
    return images[:size], labels[:size]

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

  def load_final_weights(self, run_dir):
    """The weights a finished run's pruning ranks: final.npz, or a binarized run's latent
    weights (final_latent.npz)."""
    return self.load_weights(recording.final_weights_path(run_dir))

  def run_outputs(self, result, masks):
    """(masks, {file name: arrays}) a finished run records beyond the trainer's result.

    A binarized run: final.npz holds the kernels it computes with, final_latent.npz the latent
    weights (result.final_weights, which pruning ranks). A supermask run: masks.npz is the
    learned mask, final.npz the effective kernels, scores.npz the scores.
    """
    if self.config.protocol.run_outputs:
      return spec_lib.resolve(self.config.protocol.run_outputs)(self, result, masks)
    if not self.config.binarize:
      return masks, {}
    effective = dict(result.final_weights, **masked_layers.effective_kernels(self.model))
    return masks, {paths.FINAL_WEIGHTS: effective,
                   paths.FINAL_LATENT_WEIGHTS: result.final_weights}

  def run_dir(self, level, experiment):
    return paths.run_dir(self.config.output_dir, self.config.trial, level, experiment)

  def batch_order(self):
    """The trial's minibatch order (a function of the iteration; the same for every run)."""
    return batching.BatchOrder(self.trainer.num_train_examples, self.config.batch_size,
                               self.config.seed_for('data_order'))

  def scores(self, masks, final_weights, initial_weights, *stream):
    """--mask_criterion's scores of the masked layers' weights (mask_criteria.scores).

    `initial_weights` is w0, the weights pruned networks restart from (θ0, or θk when
    rewinding); `stream` (e.g. the level) selects the draw of the 'random' criterion.
    """
    criterion = self.config.mask_criterion
    rng = (np.random.default_rng(self.config.seed_for('mask_criterion', *stream))
           if criterion == 'random' else None)
    return mask_criteria.scores(criterion, masks, initial_weights, final_weights, rng)

  def prune(self, masks, final_weights, initial_weights=None, level=0):
    """One round of pruning per --pruning (each layer by its rate, or the prunable layers
    pooled), ranking the survivors by --mask_criterion; `level` is the level being made."""
    scores = self.scores(masks, final_weights, initial_weights, level)
    if self.config.pruning == 'global':
      return pruning.prune_global(self.spec.globally_pruned_layers, self.spec.global_prune_rate,
                                  masks, scores)
    return pruning.prune_by_percent(self.spec.prune_rates, masks, scores)

  def one_shot_pruner(self, percent_remaining):
    """A function (dense masks, trained weights, w0) -> masks with `percent_remaining` left.

    Layer-wise, each layer keeps the share it would after iterative pruning to that size
    (pruning.one_shot_rates); globally, the prunable layers are pooled. Survivors are ranked by
    --mask_criterion. Raises UserInputError for an unreachable target, before anything trains.
    """
    dense = self.full_masks()
    stream = (0, int(round(percent_remaining * 1000)))  # apart from the levels' streams

    def scores(masks, weights, initial):
      return self.scores(masks, weights, initial, *stream)

    if self.config.pruning == 'global':
      layers = self.spec.globally_pruned_layers
      # Checks reachability now (with zero scores), prunes the trained weights later.
      pruning.global_one_shot(layers, dense, {f'{n}/kernel': m for n, m in dense.items()},
                              percent_remaining)
      return lambda masks, weights, initial=None: pruning.global_one_shot(
          layers, masks, scores(masks, weights, initial), percent_remaining)
    rates = pruning.one_shot_rates(self.spec.prune_rates,
                                   {name: mask.size for name, mask in dense.items()},
                                   percent_remaining)
    return lambda masks, weights, initial=None: pruning.prune_by_percent(
        rates, masks, scores(masks, weights, initial))

  def claim_output_dir(self):
    """Before the first write: check --output_dir holds this experiment's settings and record
    them (experiment.json). Other processes may train other runs of the directory meanwhile:
    each run is claimed on its own (claim_run)."""
    if not self._settings_recorded:
      try:
        os.makedirs(self.config.output_dir, exist_ok=True)
      except OSError as e:
        raise errors.UserInputError(
            errors.os_error_message(e, 'output_dir', self.config.output_dir)) from None
      config_lib.check_settings(self.config)  # again: another process may have written it
      config_lib.record_settings(self.config)
      self._settings_recorded = True

  def claim_run(self, final_dir):
    """A locking.RunClaim on the run `final_dir` (raises locking.RunClaimed if a live process
    holds it). The settings are recorded (claim_output_dir) before the run's first write."""
    return locking.RunClaim(final_dir)

  def close(self):
    """Nothing to release: run claims are released as each run ends (process exit does too)."""

  def reconfigure(self, config, dataset):
    """Reuses this experiment (model, compiled trainer) for `config`, e.g. another trial.

    `dataset` is preflight.prepare(config)'s result. The trainer's data variables are assigned
    the trial's splits (same shapes: no retracing), and its augmentation seed and initial dropout
    generator states become the ones a new process for `config` would have, so every run is bit
    for bit what a separate process gives.

    Returns:
      self, or a new Experiment when this one cannot be reused (other training settings, split
      sizes, or input normalisation statistics, which are compiled into the network).
    """
    if config.jit_compile is None:
      config = dataclasses.replace(config, jit_compile=self.config.jit_compile)
    same_training = all(getattr(config, name) == getattr(self.config, name)
                        for name in config_lib.RESULT_SETTINGS if name != 'dataset')
    compatible = (same_training and config.dataset == self.config.dataset
                  and config.output_dir == self.config.output_dir
                  and not self.spec.normalize_inputs and
                  _shapes(dataset) == _shapes(self.dataset))
    if not compatible:
      self.close()
      return Experiment(config, self.spec, dataset)
    trial_changed = config.trial != self.config.trial or dataset is not self.dataset
    self.config, self.dataset = config, dataset
    if trial_changed:
      self._reseed = True
      if self._trainer is not None:
        self._retarget_trainer()
    return self

  def _retarget_trainer(self):
    """Points the trainer at this trial's data and seeds (see reconfigure)."""
    config = self.config
    self._trainer.assign_data(
        self.dataset.train, self.dataset.validation, self.dataset.test,
        self._extra_splits(self._extra_splits_hook))
    self._trainer.set_default_augment_seed(
        config.seed_for('augment') if config.augment else None)
    if self._trainer.has_random_states:
      self._trainer.set_initial_random_states(self._fresh_random_states())

  def _fresh_random_states(self):
    """The dropout generators' initial states of a new process for this config: the global
    seed is set and an identical network built, as __init__ and the trainer do."""
    keras.utils.set_random_seed(self.config.seed_for('dropout'))
    replica = self._build_model()
    replica(self.dataset.train[0][:1], training=True)
    return [state.numpy() for state in trainer_lib.random_states(replica)]

  def run_details(self, start_iteration=0, **details):
    """`details` plus the settings every run's summary.json records."""
    config = self.config
    return dict(
        details, network=self.spec.name, dataset=config.dataset,
        dataset_source=self.dataset.source, trial=config.trial, seed=config.seed,
        training_iterations=config.training_iterations, batch_size=config.batch_size,
        learning_rate=config.learning_rate, eval_interval=config.eval_interval,
        dropout=config.dropout, optimizer=config.optimizer, momentum=config.momentum,
        weight_decay=config.weight_decay, lr_milestones=list(config.lr_milestones),
        lr_gamma=config.lr_gamma, lr_schedule=config.lr_schedule,
        warmup_iterations=config.warmup_iterations, binarize=config.binarize,
        augment=config.augment, pruning=config.pruning, start_iteration=start_iteration,
        mask_criterion=config.mask_criterion,
        rewind_iteration=config.rewind_iteration, mixed_precision=config.mixed_precision,
        report_iterations=list(config.report_iterations))

  @interrupts.deferred()
  def train(self, final_dir, masks, initial_weights, label, start_iteration=0, capture=None,
            batch_order=None, augment_seed=None, **details):
    """Trains one run from `initial_weights` under `masks`, records it in `final_dir`.

    The run is claimed first (locking.RunClaim: raises locking.RunClaimed if a live process is
    training it); if another process finished it meanwhile, its recorded result is returned.
    Continues from the run's checkpoint if an interrupted attempt left one. A diverged run is
    recorded (summary status 'diverged', no final weights) and raises TrainingDivergedError.
    A stop request (Ctrl-C, SIGTERM) saves a checkpoint after the current chunk of iterations,
    or lets a finished run be recorded, and raises interrupts.Interrupted saying where.
    `start_iteration`, `capture` and `augment_seed` are Trainer.train's; `batch_order`
    defaults to the trial's.

    Returns:
      (summary dict, TrainingResult).
    """
    claim = self.claim_run(final_dir)
    try:
      if paths.is_complete(final_dir):  # finished by another process meanwhile
        return recorded_run(final_dir)
      return self._train_claimed(final_dir, masks, initial_weights, label, start_iteration,
                                 capture, batch_order, augment_seed, details)
    finally:
      claim.release()

  def _train_claimed(self, final_dir, masks, initial_weights, label, start_iteration, capture,
                     batch_order, augment_seed, details):
    config = self.config
    partial = paths.partial_dir(final_dir)
    checkpointer = checkpointing.Checkpointer(
        os.path.join(partial, paths.CHECKPOINT), config.checkpoint_interval)
    resume = checkpointer.load() if os.path.isdir(partial) else None
    if resume is not None:
      self.trainer.check_state(resume, checkpointer.path)  # before anything is written
    self.claim_output_dir()
    if resume is None:
      paths.start(final_dir)
    else:
      print(f'[{label}] resuming from the checkpoint at iteration {resume.iteration}', flush=True)
    tensorboard = recording.TensorBoardWriter(os.path.join(partial, paths.TENSORBOARD))
    report = progress.Progress(label, config.training_iterations, config.progress_seconds)

    def on_eval(row, elapsed_seconds):
      tensorboard(row, elapsed_seconds)
      report(row, elapsed_seconds)

    details = self.run_details(start_iteration, **details)
    try:
      result = self.trainer.train(
          initial_weights, masks, config.training_iterations,
          batch_order or self.batch_order(),
          config.eval_interval, on_eval, resume=resume, checkpoint=checkpointer,
          start_iteration=start_iteration, capture=capture,
          eval_iterations=config.report_iterations, augment_seed=augment_seed)
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
    masks, arrays = self.run_outputs(result, masks)
    summary = recording.summarize(result, masks, details)
    recording.write_run(partial, result, masks, summary, arrays)
    paths.commit(partial, final_dir)
    self.trained_runs += 1
    progress.print_done(label, summary)
    interrupts.raise_if_requested(f'[{label}] interrupted by {{signal}} as it finished; run saved')
    return summary, result


def _shapes(dataset):
  return [tuple(array.shape) for split in (dataset.train, dataset.validation, dataset.test)
          for array in split]


def recorded_run(final_dir):
  """(summary, TrainingResult) of a run recorded in `final_dir` (final_weights: what pruning
  ranks, a binarized run's latent weights); raises TrainingDivergedError for a diverged one."""
  summary = recording.recorded_summary(final_dir)
  print(f'{final_dir}: completed by another process, not retrained', flush=True)
  result = trainer_lib.TrainingResult(
      initial_weights=save_restore.load_arrays(os.path.join(final_dir, paths.INITIAL_WEIGHTS)),
      final_weights=save_restore.load_arrays(recording.final_weights_path(final_dir)),
      history=pd.read_csv(os.path.join(final_dir, paths.METRICS)),
      wall_seconds=summary.get('wall_seconds', 0.0),
      steps_per_second=summary.get('steps_per_second', 0.0))
  return summary, result
