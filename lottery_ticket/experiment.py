"""The shared set-up of every runner: data, model, trainer, and training one recorded run.

An `Experiment` is built once per runner invocation. Everything that can fail because of user
input (flags, output directory, dataset files, mask files) fails while it is built or before a
run starts training, before anything is written. A Ctrl-C or SIGTERM during a run saves a
checkpoint and ends it with interrupts.Interrupted (see foundations.interrupts).
"""

import dataclasses
import sys

import numpy as np
import tensorflow as tf
import tf_keras as keras

from foundations import batching
from foundations import cpu_features
from foundations import determinism
from foundations import distribution
from foundations import masked_layers
from foundations import model_state
from foundations import optimizers
from foundations import paths
from foundations import save_restore
from foundations import trainer as trainer_lib
from lottery_ticket import preflight
from lottery_ticket import pruning_policy
from lottery_ticket import recorded_runs
from lottery_ticket import recorded_settings
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


class Experiment(recorded_runs.RecordedRuns, pruning_policy.PruningPolicy):
  """Data, network and trainer for one ExperimentConfig: the runtime set-up (strategy, seeds,
  precision policy, model, trainer, trial reconfiguration); recording runs and the pruning
  policy are its bases' jobs."""

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
    # Op determinism only with --deterministic: it refuses XLA's MaxPool gradient even on CPU,
    # where XLA's kernels are deterministic anyway for a fixed seed (tests check runs bit for bit).
    if config.deterministic:
      determinism.enable()
    keras.backend.experimental.enable_tf_random_generator()  # checkpointable dropout RNG
    keras.utils.set_random_seed(config.seed_for('dropout'))
    keras.mixed_precision.set_global_policy(config.precision)  # variables stay float32
    warning = cpu_features.emulated_bfloat16_warning(
        config.precision, bool(tf.config.list_physical_devices('GPU')))
    if warning:
      print(warning, file=sys.stderr, flush=True)
    self.model = self._build_model()
    self._trainer = None
    self._settings_recorded = False  # experiment.json checked and written before the first write
    self._reseed = False  # reconfigured for another trial: the trainer needs its seeds
    self.trained_runs = 0  # runs this experiment trained and recorded (not found recorded)
    if config.deterministic:  # an op without a deterministic kernel: refused before any write
      determinism.probe(self.trainer, self.batch_order().indices(0, 1), config.jit_compile)

  def _build_model(self):
    spec, config = self.spec, self.config
    dropout_rate = spec.dropout_rate if config.dropout else 0.0
    extra = {}
    if spec.normalize_inputs:
      extra['channel_statistics'] = channel_statistics(self.dataset.train[0])
    with distribution.scope(self.strategy):
      model = spec.build(self.dataset.input_shape, self.dataset.num_classes, dropout_rate,
                         **extra)
      if config.protocol_spec.model_transform:  # e.g. supermask: frozen weights, trainable scores
        model = spec_lib.resolve(config.protocol_spec.model_transform)(model)
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
      if config.precision == 'mixed_float16':  # bfloat16 has float32's range: no scaling
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
      self._trainer = trainer_lib.Trainer(
          self.model, optimizer, self.dataset.train, self.dataset.validation, self.dataset.test,
          jit_compile=config.jit_compile,
          schedule=optimizers.Schedule(config.learning_rate, config.lr_milestones,
                                       config.lr_gamma, config.warmup_iterations,
                                       config.lr_schedule, config.training_iterations),
          weight_decay=config.weight_decay,
          augment_seed=config.seed_for('augment') if config.augment else None,
          extra_splits=self._extra_splits(config.protocol_spec.extra_splits),
          strategy=self.strategy)
      self._extra_splits_hook = config.protocol_spec.extra_splits
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

  def run_dir(self, level, experiment):
    return paths.run_dir(self.config.output_dir, self.config.trial, level, experiment)

  def batch_order(self):
    """The trial's minibatch order (a function of the iteration; the same for every run)."""
    return batching.BatchOrder(self.trainer.num_train_examples, self.config.batch_size,
                               self.config.seed_for('data_order'))

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
                        for name in recorded_settings.RESULT_SETTINGS if name != 'dataset')
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
    return [state.numpy() for state in model_state.random_states(replica)]

def _shapes(dataset):
  return [tuple(array.shape) for split in (dataset.train, dataset.validation, dataset.test)
          for array in split]
