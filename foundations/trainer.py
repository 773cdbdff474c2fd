"""The compiled masked training loop.

One `Trainer` serves every run of an experiment: it owns the model, the optimizer and two
compiled functions (train `eval_interval` iterations; evaluate a split), so levels after the
first reuse the traced graphs instead of retracing. The whole dataset lives on the device
(foundations.device_data) and a call runs hundreds of steps with no Python in between; XLA
compiles both functions. The steps are foundations.train_step's (one device) or
foundations.distributed_step's (a tf.distribute strategy), the evaluation is
foundations.evaluation's; here are the run around them and its state.

Each run starts from the weights and masks it is given, with the optimizer state reset to zero
(a fresh optimizer: Adam moments never leak from one round into the next).
"""

import time

import numpy as np
import pandas as pd
import tensorflow as tf

from foundations import device_data
from foundations import distributed_step
from foundations import distribution
from foundations import errors
from foundations import evaluation
from foundations import model_state
from foundations import optimizers
from foundations import train_step
from foundations import training_state

# Iterations per compiled call at most; a checkpoint or a stop request (Ctrl-C) waits for the
# call in progress. Calls end at evaluations too, so LeNet's (every 100) are unchanged.
MAX_CHUNK_ITERATIONS = 100
METRIC_COLUMNS = training_state.METRIC_COLUMNS
TrainingResult = training_state.TrainingResult
TrainingState = training_state.TrainingState


class Trainer:
  """Trains `model` on in-memory data with minibatch order from a BatchOrder.

  Args:
    model: a built keras model whose prunable layers are masked layers.
    optimizer: a tf_keras optimizer; its state is zeroed at the start of every run.
    train: (images, labels) numpy arrays of the training split.
    validation, test: (images, labels) numpy arrays evaluated every eval_interval iterations.
    eval_batch_size: examples per evaluation batch (bounds evaluation memory).
    jit_compile: compile with XLA (faster on CPU; disable for debugging).
    schedule, weight_decay, augment_seed: the steps' learning-rate schedule (of the global
      iteration), coupled L2 weight decay and augmentation seed (None: no augmentation), as
      foundations.train_step.StepSettings takes them; a run may override the seed (train()).
    extra_splits: optional {name: (images, labels)} more splits that evaluate() accepts (e.g. a
      fixed training subset); they are not evaluated during training.
    strategy: optional tf.distribute strategy (foundations.distribution) for data-parallel
      training (foundations.distributed_step), in whose scope the model and optimizer were
      created; results equal single-device training up to summation order. Evaluation runs
      on one device. None: single-device training.

  Dropout masks are reproducible across checkpoints only if the model was built after
  keras.backend.experimental.enable_tf_random_generator(), which gives each Dropout layer a
  tf.random.Generator whose state this trainer resets per run and checkpoints.
  """

  def __init__(self, model, optimizer, train, validation, test, eval_batch_size=1000,
               jit_compile=True, schedule=None, weight_decay=0.0, augment_seed=None,
               extra_splits=None, strategy=None):
    self._strategy = strategy
    with distribution.data_scope(strategy):
      self._data = device_data.DeviceData(train, validation, test, extra_splits, eval_batch_size)
    self._train_images, self._train_labels = self._data.train_images, self._data.train_labels
    self._splits = self._data.splits
    with distribution.scope(strategy):
      self._build(model, optimizer, train, jit_compile, schedule, weight_decay, augment_seed)

  def _build(self, model, optimizer, train, jit_compile, schedule, weight_decay, augment_seed):
    self.model = model
    self.optimizer = optimizer
    self._step = train_step.StepSettings(schedule, weight_decay, augment_seed)
    self._default_augment_seed = augment_seed or 0
    self.optimizer.build(model.trainable_variables)
    self._optimizer_variables = optimizers.state_variables(self.optimizer)
    self._initial_optimizer_state = [v.numpy() for v in self._optimizer_variables]
    self.num_train_examples = len(train[1])
    # An eager training call creates dropout's random generators, to reset and checkpoint them.
    model(tf.gather(self._train_images, [0]), training=True)
    self._random_states = model_state.random_states(model)
    if self._strategy is not None:
      distributed_step.check_supported(optimizer, self._random_states)
    self._initial_random_states = [state.numpy() for state in self._random_states]
    common = (self._train_images, self._train_labels, self._step, jit_compile, self._count_trace)
    if self._strategy is None:  # train_steps(batch indices, first iteration): one compiled call
      self.train_steps = train_step.single_device_steps(model, optimizer, *common)
    else:
      self.train_steps = distributed_step.distributed_steps(self._strategy, model, optimizer,
                                                             *common)
    self._evaluate = evaluation.Evaluator(model, self._splits, self._strategy, jit_compile,
                                          self._count_trace)
    self.dense_gradients = train_step.DenseGradients(  # RigL's (compiled on first use)
        model, self._train_images, self._train_labels, self._step, jit_compile,
        self._random_states)
    self.traces = 0  # Python traces of the compiled functions, for leak checks
    self.max_chunk_iterations = MAX_CHUNK_ITERATIONS

  @property
  def split_names(self):
    return tuple(self._splits)

  @property
  def has_random_states(self):
    return bool(self._random_states)

  def assign_data(self, train, validation, test, extra_splits=None):
    """Replaces the data of every split by arrays of the same shapes (the compiled functions
    are reused, not retraced), e.g. another trial's validation split.

    Raises:
      ValueError: a split's shape differs from the one the trainer was built with.
    """
    self._data.assign(train, validation, test, extra_splits)

  def set_default_augment_seed(self, augment_seed):
    """The augmentation seed of runs that give none (None: augmentation stays as built)."""
    if augment_seed is not None:
      self._default_augment_seed = augment_seed

  def set_initial_random_states(self, states):
    """The dropout generators' states every run starts from (random_states' order)."""
    if [tuple(s.shape) for s in states] != [tuple(s.shape) for s in self._random_states]:
      raise ValueError('dropout generator states do not match the network')
    self._initial_random_states = [np.array(state) for state in states]

  def evaluate(self, split):
    """{'{split}_loss': ..., '{split}_accuracy': ...} for 'validation', 'test' or an extra."""
    loss, accuracy = self._evaluate(split)
    return {f'{split}_loss': float(loss), f'{split}_accuracy': float(accuracy)}

  def _count_trace(self):
    self.traces += 1

  def _row(self, iteration, train_loss=float('nan'), train_accuracy=float('nan')):
    """A metrics row: the training figures given (none: NaN, as for the starting weights),
    validation and test evaluated now."""
    return {'iteration': iteration, 'train_loss': train_loss, 'train_accuracy': train_accuracy,
            **self.evaluate('validation'), **self.evaluate('test')}

  def reset_optimizer(self):
    """A fresh optimizer: zero moments and step count (and the initial loss scale, if any)."""
    for variable, initial in zip(self._optimizer_variables, self._initial_optimizer_state):
      variable.assign(initial)

  def _reset_random_states(self):
    """Every run draws the same dropout masks, whatever ran before it in this process."""
    for state, initial in zip(self._random_states, self._initial_random_states):
      state.assign(initial)

  def _state_variables(self):
    """Everything a run changes: model weights and masks, optimizer slots and step, dropout RNG."""
    return {**{f'model/{i}': v for i, v in enumerate(self.model.variables)},
            **{f'optimizer/{i}': v for i, v in enumerate(self._optimizer_variables)},
            **{f'random/{i}': v for i, v in enumerate(self._random_states)}}

  def snapshot(self, iteration, rows, wall_seconds, initial_weights, interval=(), tracker=None,
               mask_updates=None):
    """The TrainingState after `iteration` steps, for a checkpoint."""
    return TrainingState(
        iteration=iteration, rows=list(rows), wall_seconds=wall_seconds,
        initial_weights=initial_weights,
        variables={k: v.numpy() for k, v in self._state_variables().items()},
        interval=list(interval), tracker=dict(tracker or {}),
        mask_updates=dict(mask_updates or {}))

  def check_state(self, state, source='checkpoint'):
    """Raises UserInputError unless `state` has this trainer's variables, names and shapes."""
    shapes = {k: tuple(v.shape) for k, v in self._state_variables().items()}
    if {k: tuple(v.shape) for k, v in state.variables.items()} != shapes:
      raise errors.UserInputError(f'{source}: does not match this network and optimizer')

  def _restore(self, state):
    self.check_state(state)
    for key, variable in self._state_variables().items():
      variable.assign(state.variables[key])

  def train(self, initial_weights, masks, training_iterations, batch_order, eval_interval=100,
            on_eval=None, resume=None, checkpoint=None, start_iteration=0, capture=None,
            eval_iterations=(), augment_seed=None, tracker=None, stop_when=None,
            mask_updater=None):
    """Trains from `initial_weights` under `masks` from `start_iteration` to `training_iterations`.

    Args:
      initial_weights: {key: array} as from model_state.get_weights.
      masks: {layer: 0/1 array}.
      training_iterations: the global iteration to train to.
      batch_order: a BatchOrder over this trainer's training split.
      eval_interval: evaluate validation and test at every multiple of this (and at the end).
      on_eval: optional callable(row dict, seconds elapsed), called after every evaluation.
      resume: optional TrainingState of this run to continue from (same arguments otherwise);
        the result equals that of an uninterrupted run bit for bit.
      checkpoint: optional object with due(iteration, seconds elapsed) -> bool and
        save(TrainingState), consulted after every compiled call before the last.
      start_iteration: the global iteration `initial_weights` belong to (rewinding): data order,
        augmentation and learning-rate schedule continue from there; the optimizer state
        starts at zero all the same.
      capture: optional (iteration, callable(weights dict)): called with the weights reached at
        that iteration (which must lie after start_iteration), e.g. to save a rewind point.
      eval_iterations: further iterations at which to evaluate (e.g. the report iterations).
      augment_seed: this run's augmentation seed (default: the trainer's), e.g. to train two
        copies under different SGD noise.
      tracker: optional evaluation tracker (e.g. early_bird.MaskDistance): start(state),
        called with the weights at every evaluation for more columns of its row, and state()
        for a checkpoint; it only reads the weights.
      stop_when: optional callable(history rows so far) -> bool, asked after every evaluation:
        True ends the run there (e.g. early_bird.emerged); the result is that of the
        evaluation's weights.
      mask_updater: optional foundations.mask_updates.MaskUpdater: calls end at its
        `iterations`, where it moves the masks before the next step (after that evaluation);
        start(state) and state() as the tracker's.

    Returns:
      A TrainingResult; its history starts with the masked network's validation and test
      figures at its starting weights (iteration start_iteration, before any step; no training
      loss or accuracy: NaN), then has a row per evaluation after start_iteration.

    Raises:
      errors.TrainingDivergedError: if the training loss becomes NaN or infinite; its `history`
        holds the evaluations up to and including the diverged one.
    """
    model_state.set_masks(self.model, masks)
    model_state.set_weights(self.model, initial_weights)
    self.reset_optimizer()
    self._reset_random_states()
    self._step.augment_seed.assign(self._default_augment_seed if augment_seed is None
                                   else augment_seed)
    columns = METRIC_COLUMNS + (tracker.columns if tracker is not None else ())

    def tracked(row):
      if tracker is not None:
        row.update(tracker(model_state.get_weights(self.model)))
      return row

    _start(tracker, mask_updater, resume)
    if resume is None:
      initial = model_state.get_weights(self.model)
      rows = [tracked(self._row(start_iteration))]
      iteration, previous_seconds = start_iteration, 0
    else:
      self._restore(resume)
      rows, iteration, previous_seconds = list(resume.rows), resume.iteration, resume.wall_seconds
      initial = resume.initial_weights
    evaluations = evaluation.evaluation_iterations(training_iterations, eval_interval,
                                                   eval_iterations)
    updates = set(mask_updater.iterations if mask_updater is not None else ())
    stops = evaluation.stops(iteration, training_iterations, set(evaluations) | updates, capture,
                             self.max_chunk_iterations)
    start = time.perf_counter() - previous_seconds
    # (steps, mean loss, mean accuracy) of the compiled calls since the last row
    chunks = list(resume.interval) if resume is not None else []
    for stop in stops:
      steps = stop - iteration
      loss, accuracy = self.train_steps(tf.constant(batch_order.indices(iteration, steps)),
                                         tf.constant(iteration, tf.int64))
      chunks.append((steps, float(loss), float(accuracy)))
      iteration = stop
      if capture is not None and iteration == capture[0]:
        capture[1](model_state.get_weights(self.model))
      if iteration in evaluations:
        row = tracked(self._row(iteration, evaluation.chunk_mean(chunks, 1),
                                evaluation.chunk_mean(chunks, 2)))
        chunks = []
        rows.append(row)
        if not np.isfinite(row['train_loss']):
          error = errors.TrainingDivergedError(
              f'training loss became {row["train_loss"]} by iteration {iteration}')
          error.history = pd.DataFrame(rows, columns=columns)
          raise error
        if on_eval is not None:
          on_eval(row, time.perf_counter() - start)
        if stop_when is not None and stop_when(rows):
          break
      if iteration in updates:
        mask_updater(iteration, batch_order.indices(iteration, 1)[0])
      elapsed = time.perf_counter() - start
      if checkpoint is not None and iteration < training_iterations and checkpoint.due(
          iteration, elapsed):
        hooks = [h.state() if h is not None else {} for h in (tracker, mask_updater)]
        checkpoint.save(self.snapshot(iteration, rows, elapsed, initial, chunks, *hooks))
    wall_seconds = time.perf_counter() - start
    steps_run = iteration - start_iteration
    return TrainingResult(
        initial_weights=initial,
        final_weights=model_state.get_weights(self.model),
        history=pd.DataFrame(rows, columns=columns),
        wall_seconds=wall_seconds,
        steps_per_second=steps_run / wall_seconds if wall_seconds > 0 else 0.0)


def _start(tracker, mask_updater, resume):
  """Starts a run's hooks afresh, or from the checkpoint `resume`."""
  for hook, state in ((tracker, 'tracker'), (mask_updater, 'mask_updates')):
    if hook is not None:
      hook.start(getattr(resume, state) if resume is not None else None)
