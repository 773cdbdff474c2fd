"""Pruning-at-initialization scores (DESIGN.md §13): SNIP, GraSP, SynFlow and magnitude at θ0.

Each scores the kernels of a built model's masked layers as they hold θ0 and the current masks
(model_state.set_weights / set_masks) and returns keep scores {'{layer}/kernel': float64 array of
the kernel's shape}: higher is kept, so they go straight to foundations.pruning, which removes the
lowest first (ties by position). Biases and BatchNorm are never scored. None of them changes the
model: SNIP and GraSP only read it, SynFlow works on a float64 copy.
"""

import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from foundations import errors
from foundations import masked_layers
from foundations import pruning
from foundations import train_step

# Input scaling, not part of the network: SynFlow's all-ones input goes past them (see synflow).
_INPUT_SCALING_LAYERS = (keras.layers.Rescaling, keras.layers.Normalization)


def _keep_scores(names, arrays):
  return {f'{name}/kernel': np.asarray(array, np.float64) for name, array in zip(names, arrays)}


def _masked_kernels(model):
  """{'{layer}/kernel': kernel * mask} of every masked layer, float64 numpy."""
  layers = masked_layers.masked_layers(model)
  return _keep_scores(layers, [layer.kernel.numpy().astype(np.float64) * layer.mask.numpy()
                               for layer in layers.values()])


def magnitude(model):
  """|w0| keep scores (the magnitude-at-initialization baseline)."""
  return {key: np.abs(kernel) for key, kernel in _masked_kernels(model).items()}


def _mean_loss(model, images, labels):
  """Mean cross-entropy of the batch, the loss of train_step.loss_and_correct, training=False."""
  losses, _ = train_step.loss_and_correct(model, images, tf.cast(labels, tf.int32),
                                          training=False)
  return tf.reduce_mean(losses)


def _mean_over_batches(function, batches, *extra):
  """The mean of function(images, labels, *extra) (a list of tensors) over `batches`, float64."""
  if not batches:
    raise ValueError('scoring needs at least one (images, labels) batch')
  totals = None
  for images, labels in batches:
    values = [value.numpy().astype(np.float64) for value in function(images, labels, *extra)]
    totals = values if totals is None else [t + v for t, v in zip(totals, values)]
  return [total / len(batches) for total in totals]


def _gradient_function(model, kernels):
  @tf.function
  def gradient(images, labels):
    with tf.GradientTape() as tape:
      tape.watch(kernels)
      loss = _mean_loss(model, images, labels)
    return tape.gradient(loss, kernels)
  return gradient


def gradients(model, batches):
  """The mean over `batches` of ∂L/∂w per kernel, as a keep-score-shaped dict.

  L is the batch's mean cross-entropy with training=False (see snip); pruned positions get 0.
  """
  layers = masked_layers.masked_layers(model)
  kernels = [layer.kernel for layer in layers.values()]
  return _keep_scores(layers, _mean_over_batches(_gradient_function(model, kernels), batches))


def gradients_and_hessian_gradients(model, batches):
  """(g, Hg) per kernel: g = ∂L/∂w averaged over `batches`, then H·g averaged over them.

  Hg is ∂(gᵀ·stop_gradient(g))/∂w by double back-propagation, with g fixed to the mean over all
  the batches first, as in the GraSP paper; H is the Hessian with respect to the kernels only.
  """
  layers = masked_layers.masked_layers(model)
  kernels = [layer.kernel for layer in layers.values()]

  @tf.function
  def hessian_gradient(images, labels, fixed_gradients):
    with tf.GradientTape() as outer:
      outer.watch(kernels)
      with tf.GradientTape() as inner:
        inner.watch(kernels)
        loss = _mean_loss(model, images, labels)
      batch_gradients = inner.gradient(loss, kernels)
      product = tf.add_n([tf.reduce_sum(g * tf.stop_gradient(fixed))
                          for g, fixed in zip(batch_gradients, fixed_gradients)])
    return outer.gradient(product, kernels)

  mean_gradients = _mean_over_batches(_gradient_function(model, kernels), batches)
  fixed = [tf.constant(g, kernel.dtype) for g, kernel in zip(mean_gradients, kernels)]
  mean_products = _mean_over_batches(hessian_gradient, batches, fixed)
  return _keep_scores(layers, mean_gradients), _keep_scores(layers, mean_products)


def snip(model, batches):
  """SNIP's keep scores |∂L/∂w ⊙ w| (Lee et al. 2019), ∂L/∂w averaged over `batches`.

  The network runs with training=False: BatchNorm uses its moving statistics and dropout is off,
  so the scores are deterministic and the caller's model is left as it was (BatchNorm in
  training mode would update its moving averages, and dropout would draw unseeded masks).
  Averaging the gradient (not the scores) over the batches gives the gradient of the mean loss
  over all their examples for batches of one size (open_lth accumulates it the same way).

  Args:
    model: a built model whose masked layers hold θ0 and the current masks.
    batches: a list of (images, labels) numpy arrays as the dataset holds them (the model
      scales its own inputs, e.g. uint8 images).
  """
  kernels = _masked_kernels(model)
  return {key: np.abs(g * kernels[key]) for key, g in gradients(model, batches).items()}


def grasp(model, batches):
  """GraSP's keep scores w ⊙ (H g) (Wang et al. 2020), g and Hg averaged over `batches`.

  GraSP's score is S = −w ⊙ (H g) and it removes the highest S, which is keeping the highest −S.
  Same network mode and arguments as snip.
  """
  kernels = _masked_kernels(model)
  _, hessian_gradients = gradients_and_hessian_gradients(model, batches)
  return {key: kernels[key] * hg for key, hg in hessian_gradients.items()}


def _absolute_float64_copy(model):
  """The model in float64 with every weight replaced by |w| and input scaling as the identity."""
  def clone(layer):
    config = dict(layer.get_config(), dtype='float64')
    if isinstance(layer, _INPUT_SCALING_LAYERS):
      kept = {key: config[key] for key in ('name', 'batch_input_shape') if key in config}
      return keras.layers.Rescaling(1.0, dtype='float64', **kept)
    return type(layer).from_config(config)

  copy = keras.models.clone_model(model, clone_function=clone)
  for layer in model.layers:
    if not isinstance(layer, _INPUT_SCALING_LAYERS) and layer.weights:
      copy.get_layer(layer.name).set_weights([np.abs(w) for w in layer.get_weights()])
  return copy


def _check_target(target_percent, rounds):
  if not 0.0 < target_percent <= 100.0:
    raise errors.UserInputError(
        f'--percent_remaining={target_percent}: expected a percent in (0, 100]')
  if int(rounds) != rounds or rounds < 1:
    raise errors.UserInputError(f'SynFlow rounds={rounds}: expected a whole number >= 1')


def synflow(model, layers, target_percent, rounds=100, layer_counts=None):
  """SynFlow (Tanaka et al. 2020): iterative, data-free pruning to `target_percent` remaining.

  A float64 copy of the network with every weight replaced by |w| (float32 products of many
  |w| overflow on deep nets) runs in inference mode (BatchNorm's moving statistics, no dropout)
  on an all-ones input of batch 1; R is the sum of its outputs and the scores are ∂R/∂w ⊙ w of
  the masked copy. Input scaling layers (Rescaling, Normalization: data preprocessing, which
  SynFlow's code leaves in the data pipeline) are the identity there, so the ones reach the
  first weighted layer; a per-channel normalization would otherwise make them negative.
  Each round r = 1..rounds re-scores the masked copy and prunes globally over `layers` with
  pruning.global_one_shot, the pooled survivors of `layers` shrinking geometrically to their
  final share, (target_percent/100)^(r/rounds) of them when every masked layer is in `layers`;
  the last round asks global_one_shot for target_percent itself, so it lands on its exact count.
  With `layer_counts` each layer instead shrinks geometrically to its own final count (layer-wise
  scope).
  The caller's model (weights, masks, dtype policy) is not changed.

  Args:
    model: a built model whose masked layers hold θ0 and the current masks.
    layers: names of the prunable masked layers, pruned together.
    target_percent: percent of all masked weights remaining at the end, in (0, 100].
    rounds: the number of scoring and pruning rounds (the paper's 100).
    layer_counts: {layer: weights it keeps at the end}, or None to prune `layers` pooled.

  Returns:
    (masks {layer: float32 0/1} of every masked layer, the keep scores of the last round).
  """
  _check_target(target_percent, rounds)
  masks = {name: layer.mask.numpy() for name, layer in masked_layers.masked_layers(model).items()}
  unknown = sorted(set(layers) - set(masks))
  if unknown:
    raise errors.UserInputError(f'SynFlow: {unknown} are not masked layers of the network')
  total = sum(mask.size for mask in masks.values())
  kept_elsewhere = sum(int(np.count_nonzero(masks[name])) for name in masks if name not in layers)
  pooled = sum(int(np.count_nonzero(masks[name])) for name in layers)
  final_fraction = (target_percent / 100.0 * total - kept_elsewhere) / max(pooled, 1)
  if final_fraction <= 0:
    raise errors.UserInputError(
        f'--percent_remaining={target_percent:g}: unreachable, layers that are never pruned '
        f'already hold {100.0 * kept_elsewhere / total:.2f}% of the weights')

  copy = _absolute_float64_copy(model)
  copy_layers = masked_layers.masked_layers(copy)
  kernels = [layer.kernel for layer in copy_layers.values()]
  ones = tf.ones((1,) + tuple(model.input_shape[1:]),
                 copy.inputs[0].dtype if copy.inputs else tf.float64)

  @tf.function
  def score():
    with tf.GradientTape() as tape:
      tape.watch(kernels)
      synaptic_flow = tf.reduce_sum(copy(ones, training=False))
    return [g * kernel for g, kernel in zip(tape.gradient(synaptic_flow, kernels), kernels)]

  for round_index in range(1, int(rounds) + 1):
    for name, layer in copy_layers.items():
      layer.mask.assign(masks[name].astype(np.float64))
    scores = _keep_scores(copy_layers, [s.numpy() for s in score()])
    progress = round_index / rounds
    if layer_counts is not None:
      masks = pruning.prune_to_counts(masks, scores, {
          name: _scheduled_count(masks[name].size, count, progress)
          for name, count in layer_counts.items()})
      continue
    kept = kept_elsewhere + pooled * min(final_fraction, 1.0) ** progress
    percent = target_percent if round_index == rounds else 100.0 * kept / total
    masks = pruning.global_one_shot(layers, masks, scores, percent)
  return masks, scores


def _scheduled_count(size, final_count, progress):
  """A layer's kept count after `progress` (in (0, 1]) of a geometric schedule to
  `final_count`; exactly final_count at the end."""
  if progress >= 1.0 or final_count <= 0:
    return final_count
  return max(final_count, int(math.floor(size * (final_count / size) ** progress + 0.5)))
