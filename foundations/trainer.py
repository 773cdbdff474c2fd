"""The compiled masked training loop.

One `Trainer` serves every run of an experiment: it owns the model, the optimizer and two
compiled functions (train `eval_interval` iterations; evaluate a split), so levels after the
first reuse the traced graphs instead of retracing. The whole dataset lives on the device and a
call runs hundreds of steps with no Python in between; XLA compiles both functions.

Each run starts from the weights and masks it is given, with the optimizer state reset to zero
(a fresh optimizer: Adam moments never leak from one round into the next).
"""

import dataclasses
import time

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras as keras

from foundations import augmentation
from foundations import distribution
from foundations import errors
from foundations import model_state

# Iterations per compiled call at most; a checkpoint or a stop request (Ctrl-C) waits for the
# call in progress. Calls end at evaluations too, so LeNet's (every 100) are unchanged.
MAX_CHUNK_ITERATIONS = 100
METRIC_COLUMNS = ('iteration', 'train_loss', 'train_accuracy', 'validation_loss',
                  'validation_accuracy', 'test_loss', 'test_accuracy')


@dataclasses.dataclass
class TrainingResult:
  initial_weights: dict  # as given (pruned positions zero)
  final_weights: dict  # kernel * mask
  history: pd.DataFrame  # METRIC_COLUMNS: the starting weights' row, then one per evaluation
  wall_seconds: float
  steps_per_second: float


@dataclasses.dataclass
class TrainingState:
  """A run after `iteration` steps: enough to continue it exactly (see Trainer.train)."""
  iteration: int
  rows: list  # metric rows so far
  wall_seconds: float
  initial_weights: dict
  variables: dict  # 'model/{i}', 'optimizer/{i}' and 'random/{i}' (dropout RNG) -> array
  interval: list = dataclasses.field(default_factory=list)  # (steps, loss, accuracy) of the
  # compiled calls since the last evaluation, when saved between evaluations


class _EvalSplit:
  """A split on the device, padded to whole evaluation batches, with 0-weights on the padding."""

  def __init__(self, images, labels, batch_size):
    images, labels, weights = self.arrays(images, labels, batch_size)
    self.images = tf.Variable(images, trainable=False)
    self.labels = tf.Variable(labels, trainable=False)
    self.weights = tf.Variable(weights, trainable=False)

  @staticmethod
  def arrays(images, labels, batch_size):
    """(images, labels, weights) as [chunks, batch, ...] arrays, padding weighted 0."""
    count = len(labels)
    batch_size = min(batch_size, count)
    chunks = -(-count // batch_size)
    pad = chunks * batch_size - count
    images = np.concatenate([images, np.zeros((pad,) + images.shape[1:], images.dtype)])
    labels = np.concatenate([labels, np.zeros(pad, labels.dtype)]).astype(np.int32)
    weights = np.concatenate([np.ones(count, np.float32), np.zeros(pad, np.float32)])
    shape = (chunks, batch_size)
    return (images.reshape(shape + images.shape[1:]), labels.reshape(shape),
            weights.reshape(shape))


def random_states(model):
  """The state variables of `model`'s dropout random generators (created by a training call)."""
  return [layer._random_generator._generator.state  # pylint: disable=protected-access
          for layer in model.layers
          if getattr(getattr(layer, '_random_generator', None), '_generator', None) is not None]


def _loss_and_correct(model, images, labels, training):
  logits = tf.cast(model(images, training=training), tf.float32)  # float16 with mixed precision
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
  correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels),
                    tf.float32)
  return losses, correct


class Trainer:
  """Trains `model` on in-memory data with minibatch order from a BatchOrder.

  Args:
    model: a built keras model whose prunable layers are masked layers.
    optimizer: a tf_keras optimizer; its state is zeroed at the start of every run.
    train: (images, labels) numpy arrays of the training split.
    validation, test: (images, labels) numpy arrays evaluated every eval_interval iterations.
    eval_batch_size: examples per evaluation batch (bounds evaluation memory).
    jit_compile: compile with XLA (faster on CPU; disable for debugging).
    schedule: optional foundations.optimizers.Schedule; the learning rate of each step is
      schedule(global iteration). None (or a constant schedule) keeps the optimizer's own rate.
    weight_decay: L2 coefficient added to every gradient (g + weight_decay * w), as PyTorch's
      coupled weight decay; pruned weights are zero, so they stay zero.
    augment_seed: if not None, every training batch is augmented by
      foundations.augmentation.augment(images, augment_seed, iteration) (a run may override
      the seed: Trainer.train's augment_seed).
    extra_splits: optional {name: (images, labels)} more splits that evaluate() accepts (e.g. a
      fixed training subset); they are not evaluated during training.
    strategy: optional tf.distribute strategy (foundations.distribution) for data-parallel
      training: the model and optimizer must have been created in its scope; every replica
      trains on its slice of each global batch and the gradients are all-reduced, so results
      equal single-device training up to summation order. XLA compiles each replica's forward
      and backward pass; evaluation runs on one device. None: single-device training.

  Dropout masks are reproducible across checkpoints only if the model was built after
  keras.backend.experimental.enable_tf_random_generator(), which gives each Dropout layer a
  tf.random.Generator whose state this trainer resets per run and checkpoints.
  """

  def __init__(self, model, optimizer, train, validation, test, eval_batch_size=1000,
               jit_compile=True, schedule=None, weight_decay=0.0, augment_seed=None,
               extra_splits=None, strategy=None):
    self._strategy = strategy
    with distribution.data_scope(strategy):
      self._train_images = tf.Variable(train[0], trainable=False)
      self._train_labels = tf.Variable(train[1].astype(np.int32), trainable=False)
      self._splits = {'validation': _EvalSplit(*validation, eval_batch_size),
                      'test': _EvalSplit(*test, eval_batch_size),
                      **{name: _EvalSplit(*split, eval_batch_size)
                         for name, split in (extra_splits or {}).items()}}
    with distribution.scope(strategy):
      self._build(model, optimizer, train, eval_batch_size, jit_compile, schedule,
                  weight_decay, augment_seed)

  def _build(self, model, optimizer, train, eval_batch_size, jit_compile, schedule,
             weight_decay, augment_seed):
    self.model = model
    self.optimizer = optimizer
    self._schedule = None if schedule is None or schedule.is_constant else schedule
    self._weight_decay = float(weight_decay)
    self._augment = augment_seed is not None
    self._default_augment_seed = augment_seed or 0
    self._augment_seed = tf.Variable(self._default_augment_seed, dtype=tf.int64, trainable=False)
    self.optimizer.build(model.trainable_variables)
    # Mixed precision wraps the optimizer in a LossScaleOptimizer (float16 gradients).
    self._loss_scaling = isinstance(self.optimizer, keras.mixed_precision.LossScaleOptimizer)
    self._initial_optimizer_state = [v.numpy() for v in self.optimizer.variables]
    self.num_train_examples = len(train[1])
    self._eval_batch_size = eval_batch_size
    # One eager training-mode call creates the dropout layers' random generators (if any), so
    # their states exist before the first run and can be reset and checkpointed.
    model(tf.gather(self._train_images, [0]), training=True)
    self._random_states = random_states(model)
    if self._strategy is not None and (self._loss_scaling or self._random_states):
      raise errors.UserInputError('--distribute: mixed precision and dropout train on one '
                                  'device only; use --distribute=none')
    self._initial_random_states = [state.numpy() for state in self._random_states]
    if self._strategy is None:
      self._train_steps = tf.function(self._train_steps_fn, jit_compile=jit_compile)
    else:  # XLA cannot compile strategy.run; it compiles each replica's gradient computation
      self._replica_gradients = tf.function(self._replica_gradients_fn, jit_compile=jit_compile)
      self._train_steps = tf.function(self._distributed_train_steps_fn)
    self._evaluate = tf.function(self._evaluate_fn, jit_compile=jit_compile)
    self._jit_compile = jit_compile
    self._split_evaluators = {}  # under a strategy: split name -> its compiled evaluation
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
    new = {'validation': _EvalSplit.arrays(*validation, self._eval_batch_size),
           'test': _EvalSplit.arrays(*test, self._eval_batch_size),
           **{name: _EvalSplit.arrays(*split, self._eval_batch_size)
              for name, split in (extra_splits or {}).items()}}
    targets = [(self._train_images, train[0]), (self._train_labels, train[1].astype(np.int32))]
    if sorted(new) != sorted(self._splits):
      raise ValueError(f'splits {sorted(new)}, expected {sorted(self._splits)}')
    for name, arrays in new.items():
      split = self._splits[name]
      targets += list(zip((split.images, split.labels, split.weights), arrays))
    for variable, value in targets:
      if tuple(variable.shape) != value.shape:
        raise ValueError(f'data of shape {value.shape}, expected {tuple(variable.shape)}')
    for variable, value in targets:
      variable.assign(value)

  def set_default_augment_seed(self, augment_seed):
    """The augmentation seed of runs that give none (None: augmentation stays as built)."""
    if augment_seed is not None:
      self._default_augment_seed = augment_seed

  def set_initial_random_states(self, states):
    """The dropout generators' states every run starts from (random_states' order)."""
    if [tuple(s.shape) for s in states] != [tuple(s.shape) for s in self._random_states]:
      raise ValueError('dropout generator states do not match the network')
    self._initial_random_states = [np.array(state) for state in states]

  def _train_steps_fn(self, batch_indices, first_iteration):
    """Runs one step per row of batch_indices, the first being global iteration
    `first_iteration`; returns (mean loss, mean accuracy) over the steps."""
    self.traces += 1
    variables = self.model.trainable_variables
    loss_sum = tf.constant(0.0)
    correct_sum = tf.constant(0.0)
    for step in tf.range(tf.shape(batch_indices)[0]):
      iteration = first_iteration + tf.cast(step, tf.int64)
      images = tf.gather(self._train_images, batch_indices[step])
      labels = tf.gather(self._train_labels, batch_indices[step])
      if self._augment:
        images = augmentation.augment(images, self._augment_seed, iteration)
      with tf.GradientTape() as tape:
        losses, correct = _loss_and_correct(self.model, images, labels, training=True)
        loss = tf.reduce_mean(losses)
        scaled_loss = self.optimizer.get_scaled_loss(loss) if self._loss_scaling else loss
      gradients = tape.gradient(scaled_loss, variables)
      if self._loss_scaling:
        gradients = self.optimizer.get_unscaled_gradients(gradients)
      if self._weight_decay:
        gradients = [g + self._weight_decay * v for g, v in zip(gradients, variables)]
      if self._schedule is not None:
        self.optimizer.learning_rate.assign(self._schedule(iteration))
      self.optimizer.apply_gradients(zip(gradients, variables))
      loss_sum += loss
      correct_sum += tf.reduce_mean(correct)
    steps = tf.cast(tf.shape(batch_indices)[0], tf.float32)
    return loss_sum / steps, correct_sum / steps

  def _distributed_train_steps_fn(self, batch_indices, first_iteration):
    """_train_steps_fn under the strategy: strategy.run per step, replicas in lockstep."""
    self.traces += 1
    strategy = self._strategy
    loss_sum = tf.constant(0.0)
    correct_sum = tf.constant(0.0)
    for step in tf.range(tf.shape(batch_indices)[0]):
      iteration = first_iteration + tf.cast(step, tf.int64)
      if self._schedule is not None:
        self.optimizer.learning_rate.assign(self._schedule(iteration))
      loss, correct = strategy.run(self._replica_step, args=(batch_indices[step], iteration))
      loss_sum += strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
      correct_sum += strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None)
    steps = tf.cast(tf.shape(batch_indices)[0], tf.float32)
    return loss_sum / steps, correct_sum / steps

  def _replica_step(self, batch_indices, iteration):
    """One replica's share of a step: its slice of the global batch, the all-reduced gradient
    (the global batch's mean gradient) applied; returns its (loss, accuracy) share."""
    context = tf.distribute.get_replica_context()
    variables = self.model.trainable_variables
    own = distribution.replica_slice(batch_indices, context)
    # Augmentation draws for the whole batch (as on one device, and inside XLA like there: its
    # random numbers differ from TensorFlow's); the replica then keeps its slice.
    images = tf.gather(self._train_images, batch_indices if self._augment else own)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.shape(own)[0]
    gradients, loss, correct = self._replica_gradients(
        images, tf.gather(self._train_labels, own), iteration, start,
        tf.cast(tf.shape(batch_indices)[0], tf.float32))
    gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    if self._weight_decay:
      gradients = [g + self._weight_decay * v for g, v in zip(gradients, variables)]
    self.optimizer.apply_gradients(zip(gradients, variables), skip_gradients_aggregation=True)
    return loss, correct

  def _replica_gradients_fn(self, images, labels, iteration, start, global_size):
    """(gradients, loss sum, correct count) over a replica's examples, each / global_size;
    with augmentation, `images` is the whole batch, of which rows from `start` are its own."""
    self.traces += 1
    if self._augment:
      images = augmentation.augment(images, self._augment_seed, iteration)
      images = images[start:start + tf.shape(labels)[0]]
    with tf.GradientTape() as tape:
      losses, correct = _loss_and_correct(self.model, images, labels, training=True)
      loss = tf.reduce_sum(losses) / global_size
    gradients = tape.gradient(loss, self.model.trainable_variables)
    return gradients, loss, tf.reduce_sum(correct) / global_size

  def _evaluate_fn(self, images, labels, weights):
    """(mean loss, accuracy) over a padded split."""
    self.traces += 1
    loss_sum = tf.constant(0.0)
    correct_sum = tf.constant(0.0)
    for chunk in tf.range(tf.shape(labels)[0]):
      losses, correct = _loss_and_correct(self.model, images[chunk], labels[chunk], False)
      loss_sum += tf.reduce_sum(losses * weights[chunk])
      correct_sum += tf.reduce_sum(correct * weights[chunk])
    count = tf.reduce_sum(weights)
    return loss_sum / count, correct_sum / count

  def evaluate(self, split):
    """{'{split}_loss': ..., '{split}_accuracy': ...} for 'validation', 'test' or an extra."""
    data = self._splits[split]
    if self._strategy is None:
      loss, accuracy = self._evaluate(data.images, data.labels, data.weights)
    else:  # a tf.function given distributed variables as arguments reuses the first trace's
      if split not in self._split_evaluators:
        self._split_evaluators[split] = tf.function(
            lambda: self._evaluate_fn(data.images, data.labels, data.weights),
            jit_compile=self._jit_compile)
      loss, accuracy = self._split_evaluators[split]()
    return {f'{split}_loss': float(loss), f'{split}_accuracy': float(accuracy)}

  def _row_at_start(self, iteration):
    """The metrics row of the starting weights: how the masked, untrained network scores."""
    row = {'iteration': iteration, 'train_loss': float('nan'), 'train_accuracy': float('nan')}
    row.update(self.evaluate('validation'))
    row.update(self.evaluate('test'))
    return row

  def reset_optimizer(self):
    """A fresh optimizer: zero moments and step count (and the initial loss scale, if any)."""
    for variable, initial in zip(self.optimizer.variables, self._initial_optimizer_state):
      variable.assign(initial)

  def _reset_random_states(self):
    """Every run draws the same dropout masks, whatever ran before it in this process."""
    for state, initial in zip(self._random_states, self._initial_random_states):
      state.assign(initial)

  def _state_variables(self):
    """Everything a run changes: model weights and masks, optimizer slots and step, dropout RNG."""
    return {**{f'model/{i}': v for i, v in enumerate(self.model.variables)},
            **{f'optimizer/{i}': v for i, v in enumerate(self.optimizer.variables)},
            **{f'random/{i}': v for i, v in enumerate(self._random_states)}}

  def snapshot(self, iteration, rows, wall_seconds, initial_weights, interval=()):
    """The TrainingState after `iteration` steps, for a checkpoint."""
    return TrainingState(
        iteration=iteration, rows=list(rows), wall_seconds=wall_seconds,
        initial_weights=initial_weights,
        variables={k: v.numpy() for k, v in self._state_variables().items()},
        interval=list(interval))

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
            eval_iterations=(), augment_seed=None):
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
    self._augment_seed.assign(self._default_augment_seed if augment_seed is None
                              else augment_seed)
    if resume is None:
      initial = model_state.get_weights(self.model)
      rows, iteration, previous_seconds = [self._row_at_start(start_iteration)], start_iteration, 0
    else:
      self._restore(resume)
      rows, iteration, previous_seconds = list(resume.rows), resume.iteration, resume.wall_seconds
      initial = resume.initial_weights
    evaluations = _evaluation_iterations(training_iterations, eval_interval, eval_iterations)
    stops = _stops(iteration, training_iterations, evaluations, capture,
                   self.max_chunk_iterations)
    start = time.perf_counter() - previous_seconds
    # (steps, mean loss, mean accuracy) of the compiled calls since the last row
    chunks = list(resume.interval) if resume is not None else []
    for stop in stops:
      steps = stop - iteration
      loss, accuracy = self._train_steps(tf.constant(batch_order.indices(iteration, steps)),
                                         tf.constant(iteration, tf.int64))
      chunks.append((steps, float(loss), float(accuracy)))
      iteration = stop
      if capture is not None and iteration == capture[0]:
        capture[1](model_state.get_weights(self.model))
      if iteration in evaluations:
        row = {'iteration': iteration, 'train_loss': _mean(chunks, 1),
               'train_accuracy': _mean(chunks, 2)}
        chunks = []
        row.update(self.evaluate('validation'))
        row.update(self.evaluate('test'))
        rows.append(row)
        if not np.isfinite(row['train_loss']):
          error = errors.TrainingDivergedError(
              f'training loss became {row["train_loss"]} by iteration {iteration}')
          error.history = pd.DataFrame(rows, columns=METRIC_COLUMNS)
          raise error
        if on_eval is not None:
          on_eval(row, time.perf_counter() - start)
      elapsed = time.perf_counter() - start
      if checkpoint is not None and iteration < training_iterations and checkpoint.due(
          iteration, elapsed):
        checkpoint.save(self.snapshot(iteration, rows, elapsed, initial, chunks))
    wall_seconds = time.perf_counter() - start
    steps_run = training_iterations - start_iteration
    return TrainingResult(
        initial_weights=initial,
        final_weights=model_state.get_weights(self.model),
        history=pd.DataFrame(rows, columns=METRIC_COLUMNS),
        wall_seconds=wall_seconds,
        steps_per_second=steps_run / wall_seconds if wall_seconds > 0 else 0.0)


def _mean(chunks, column):
  """The step-weighted mean of one column of (steps, loss, accuracy) chunks."""
  if len(chunks) == 1:
    return chunks[0][column]
  return sum(c[0] * c[column] for c in chunks) / sum(c[0] for c in chunks)


def _evaluation_iterations(training_iterations, eval_interval, extra=()):
  """{every multiple of eval_interval up to training_iterations, the extras, and the end}."""
  points = set(range(eval_interval, training_iterations + 1, eval_interval))
  points.update(i for i in extra if 0 < i <= training_iterations)
  points.add(training_iterations)
  return points


def _stops(iteration, training_iterations, evaluations, capture, max_chunk_iterations):
  """The iterations after `iteration` at which a compiled call ends: the evaluations, the
  capture, and every multiple of max_chunk_iterations (so a stop request or a checkpoint never
  waits for a long evaluation interval)."""
  points = set(evaluations)
  points.update(range(max_chunk_iterations, training_iterations, max_chunk_iterations))
  if capture is not None:
    points.add(capture[0])
  return sorted(p for p in points if p > iteration)
