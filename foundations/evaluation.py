"""Evaluation in a Trainer's run: the compiled evaluation of a split on the device
(foundations.device_data), and the plan of a run around it (the iterations it evaluates at,
where its compiled calls end, and the training figures an evaluation row reports).

A split is evaluated batch by batch (evaluation memory stays bounded by the batch size), its
padding weighted 0; the plan is pure Python, so Trainer.train reads as the run it is.
"""

import tensorflow as tf

from foundations import train_step


class Evaluator:
  """evaluator(split name) -> (mean loss, accuracy) of `model` on splits[name]
  (foundations.device_data.EvalSplit objects).

  On one device one compiled function serves every split. Under a strategy each split gets its
  own (a tf.function given distributed variables as arguments reuses the first trace's); it runs
  on one device. on_trace() counts the traces.
  """

  def __init__(self, model, splits, strategy, jit_compile, on_trace):
    self._model = model
    self._splits = splits
    self._strategy = strategy
    self._jit_compile = jit_compile
    self._on_trace = on_trace
    self._evaluate = tf.function(self._evaluate_fn, jit_compile=jit_compile)
    self._split_evaluators = {}  # under a strategy: split name -> its compiled evaluation

  def _evaluate_fn(self, images, labels, weights):
    """(mean loss, accuracy) over a padded split."""
    self._on_trace()
    loss_sum = tf.constant(0.0)
    correct_sum = tf.constant(0.0)
    for chunk in tf.range(tf.shape(labels)[0]):
      losses, correct = train_step.loss_and_correct(self._model, images[chunk], labels[chunk],
                                                    False)
      loss_sum += tf.reduce_sum(losses * weights[chunk])
      correct_sum += tf.reduce_sum(correct * weights[chunk])
    count = tf.reduce_sum(weights)
    return loss_sum / count, correct_sum / count

  def __call__(self, split):
    data = self._splits[split]
    if self._strategy is None:
      return self._evaluate(data.images, data.labels, data.weights)
    if split not in self._split_evaluators:
      self._split_evaluators[split] = tf.function(
          lambda: self._evaluate_fn(data.images, data.labels, data.weights),
          jit_compile=self._jit_compile)
    return self._split_evaluators[split]()


def evaluation_iterations(training_iterations, eval_interval, extra=()):
  """{every multiple of eval_interval up to training_iterations, the extras, and the end}."""
  points = set(range(eval_interval, training_iterations + 1, eval_interval))
  points.update(i for i in extra if 0 < i <= training_iterations)
  points.add(training_iterations)
  return points


def stops(iteration, training_iterations, evaluations, capture, max_chunk_iterations):
  """The iterations after `iteration` at which a compiled call ends: the evaluations, the
  capture, and every multiple of max_chunk_iterations (so a stop request or a checkpoint never
  waits for a long evaluation interval)."""
  points = set(evaluations)
  points.update(range(max_chunk_iterations, training_iterations, max_chunk_iterations))
  if capture is not None:
    points.add(capture[0])
  return sorted(p for p in points if p > iteration)


def chunk_mean(chunks, column):
  """The step-weighted mean of one column of (steps, loss, accuracy) chunks."""
  if len(chunks) == 1:
    return chunks[0][column]
  return sum(c[0] * c[column] for c in chunks) / sum(c[0] for c in chunks)
