"""The arithmetic of a training step alone: its matmuls and convolutions, timed one by one.

Each Dense and Conv2D layer's forward op and its two gradients (input and kernel) are timed on
their own, on this machine's kernels, at the network's batch size, in a compiled loop (marginal,
so call overhead cancels). Their sum is what a step would take if nothing else (activations,
BatchNorm, pooling, the loss, the optimizer, masks, data) cost anything: the bound a trainer on
these kernels approaches. It is an estimate, not a proof: inside a whole compiled step XLA may
fuse or schedule the same work a little better (LeNet's trainer reaches it), and the timing loop
adds a few elementwise operations of its own.
"""

import tensorflow as tf
import tf_keras as keras

from benchmarks import _timing as timing
from foundations import flops as flops_lib

_ASSUMED_FLOPS_PER_SECOND = 1e11  # only to choose loop lengths near `seconds`


def _layer_op(layer):
  if isinstance(layer, keras.layers.Conv2D):
    return layer.convolution_op
  return tf.matmul


def _loop(layer, batch_size, jit_compile):
  """run(steps): `steps` forward and backward passes of the layer's op, compiled."""
  op = _layer_op(layer)
  inputs = tf.random.normal((batch_size,) + tuple(layer.input_shape[1:]), dtype=layer.dtype)
  kernel = tf.random.normal(layer.kernel.shape, dtype=layer.dtype)

  @tf.function(jit_compile=jit_compile)
  def loop(steps):
    # Every pass scales its operands by its index, so no compiler can hoist it out of the loop.
    total = tf.constant(0.0, layer.dtype)
    for i in tf.range(steps):
      scale = 1 + 1e-7 * tf.cast(i, layer.dtype)
      x, w = inputs * scale, kernel * scale
      with tf.GradientTape() as tape:
        tape.watch([x, w])
        outputs = op(x, w)
      input_gradient, kernel_gradient = tape.gradient(outputs, [x, w],
                                                      output_gradients=outputs * scale)
      total += (tf.reduce_sum(outputs) + tf.reduce_sum(input_gradient) +
                tf.reduce_sum(kernel_gradient))
    return total

  return lambda steps: loop(tf.constant(steps)).numpy()


def step_bound(model, batch_size, jit_compile, repeats, seconds=0.3):
  """{'steps_per_second', 'gflop_per_step', 'gflop_per_second', 'layers'} of the model's
  Dense/Conv2D layers at `batch_size` (a step counted as 3 forward passes of FLOPs)."""
  layers = [layer for layer in model.layers
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))]
  runs = {}
  flops = {}
  for layer in layers:
    flops[layer.name] = 3 * 2 * batch_size * flops_lib.dense_multiply_adds(layer)
    short = max(1, int(seconds * _ASSUMED_FLOPS_PER_SECOND / flops[layer.name]))
    runs[layer.name] = (_loop(layer, batch_size, jit_compile), short, 3 * short)
  rates = timing.interleaved_marginal_rates(runs, repeats)
  step_seconds = {name: 1 / timing.spread(values)['median'] for name, values in rates.items()}
  total_seconds = sum(step_seconds.values())
  total_flops = sum(flops.values())
  return {'steps_per_second': 1 / total_seconds, 'gflop_per_step': total_flops / 1e9,
          'gflop_per_second': total_flops / total_seconds / 1e9,
          'layers': {name: {'seconds': step_seconds[name], 'gflop': flops[name] / 1e9}
                     for name in step_seconds}}
