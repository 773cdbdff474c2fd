"""TFLite conversion of a plain tf_keras model, and what a deployment cares about: file sizes,
accuracy through the TFLite interpreter, and single-image latency.

Both conversions ask for TFLite's sparse weight encoding (Optimize.EXPERIMENTAL_SPARSITY), which
the converter applies to weight tensors that are sparse enough to gain from it; the quantised
file also uses dynamic-range quantisation (int8 weights, float activations; Optimize.DEFAULT).

Models are loaded and timed with LiteRT's interpreter (the ai_edge_litert package), or with
tf.lite.Interpreter (deprecated: it prints a warning saying so) where LiteRT is not installed.
"""

import gzip
import importlib.metadata
import time

import numpy as np
import tensorflow as tf

from foundations import console

VARIANTS = {  # file suffix: converter optimizations
    'float32': (tf.lite.Optimize.EXPERIMENTAL_SPARSITY,),
    'dynamic_range': (tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY),
}


def convert(model, variant):
  """The .tflite bytes of `model` converted as VARIANTS[variant] says."""
  converter = tf.lite.TFLiteConverter.from_keras_model(model)
  converter.optimizations = list(VARIANTS[variant])
  return converter.convert()


def gzip_bytes(data):
  """Size in bytes of `data` compressed with gzip at its default level (6)."""
  return len(gzip.compress(data, compresslevel=6, mtime=0))


RESOLVERS = {  # how kernels are chosen: TFLite's default (with XNNPACK), or builtin kernels only
    'xnnpack': 'AUTO',
    'builtin': 'BUILTIN_WITHOUT_DEFAULT_DELEGATES',
}
LOAD_SETTINGS = {  # export.json's loads_with keys: the RESOLVERS key each stands for
    'default': 'xnnpack',  # Interpreter(model_content=...) with nothing else set
    'builtin_kernels': 'builtin',
}


def _runtime():
  """(Interpreter class, OpResolverType, package name): LiteRT's, else tf.lite's."""
  try:
    from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  except ImportError:
    return tf.lite.Interpreter, tf.lite.experimental.OpResolverType, 'tf.lite'
  return litert.Interpreter, litert.OpResolverType, 'ai_edge_litert'


def interpreter_package():
  """{'package': 'ai_edge_litert' or 'tf.lite', 'version': its version} of the interpreter."""
  package = _runtime()[2]
  if package == 'tf.lite':
    return dict(package=package, version=tf.__version__)
  return dict(package=package, version=importlib.metadata.version('ai-edge-litert'))


def resolver_setting(resolver):
  """How a user asks for `resolver` (a RESOLVERS key), e.g. 'OpResolverType.AUTO'."""
  return f'OpResolverType.{RESOLVERS[resolver]}'


def _new_interpreter(tflite_bytes, resolver, num_threads=None):
  interpreter_class, resolver_type, _ = _runtime()
  return interpreter_class(model_content=tflite_bytes, num_threads=num_threads,
                           experimental_op_resolver_type=getattr(resolver_type,
                                                                 RESOLVERS[resolver]))


def _interpreter(tflite_bytes, batch_shape, num_threads=None, resolver='xnnpack'):
  """(interpreter, input index, output index) for batches of `batch_shape`.

  XNNPACK cannot run every model (here: sparse dynamic-range FULLY_CONNECTED); with the default
  resolver such a model falls back to builtin kernels. Raises RuntimeError if `resolver` was
  named explicitly and cannot run the model.
  """
  try:
    with console.notices_dropped():
      interpreter = _new_interpreter(tflite_bytes, resolver, num_threads)
      index = interpreter.get_input_details()[0]['index']
      interpreter.resize_tensor_input(index, batch_shape)
      interpreter.allocate_tensors()
  except RuntimeError:
    if resolver == 'builtin':
      raise
    return _interpreter(tflite_bytes, batch_shape, num_threads, 'builtin')
  return interpreter, index, interpreter.get_output_details()[0]['index']


def runs_with(tflite_bytes, resolver):
  """Whether the interpreter can run the model with `resolver` (a RESOLVERS key) alone."""
  try:
    with console.notices_dropped():
      _new_interpreter(tflite_bytes, resolver).allocate_tensors()
  except RuntimeError:
    return False
  return True


def loads_with(tflite_bytes):
  """{LOAD_SETTINGS key: whether an interpreter with that setting loads the model}."""
  return {key: runs_with(tflite_bytes, resolver) for key, resolver in LOAD_SETTINGS.items()}


def predict(tflite_bytes, images, batch_size=1000):
  """Logits of `images` (uint8 or float, N x H x W x C) through the TFLite interpreter."""
  images = np.asarray(images, np.float32)
  batch_size = min(batch_size, len(images))
  interpreter, input_index, output_index = _interpreter(
      tflite_bytes, (batch_size,) + images.shape[1:])
  outputs = []
  for start in range(0, len(images), batch_size):
    batch = images[start:start + batch_size]
    count = len(batch)
    if count < batch_size:  # the interpreter's shape is fixed: pad the last batch
      batch = np.concatenate([batch, np.zeros((batch_size - count,) + batch.shape[1:],
                                              np.float32)])
    interpreter.set_tensor(input_index, batch)
    interpreter.invoke()
    outputs.append(interpreter.get_tensor(output_index)[:count])
  return np.concatenate(outputs)


def accuracy(logits, labels):
  return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))


def keras_predict(model, images, batch_size=1000):
  """Logits of a tf_keras model on `images`, in inference mode."""
  images = np.asarray(images, np.float32)
  return np.concatenate([model(images[i:i + batch_size], training=False).numpy()
                         for i in range(0, len(images), batch_size)])


def latency_seconds(models, image, runs, resolver, rounds=5):
  """Median seconds of one single-image invoke of each of `models`, one interpreter thread.

  The models take turns in `rounds` rounds of runs/rounds invokes each (after a warm-up), so
  that a change in the machine's load affects them alike.

  Args:
    models: {name: .tflite bytes}.
    image: one image (H x W x C).
    runs: invokes timed per model.
    resolver: a RESOLVERS key; every model must run with it (see runs_with).
    rounds: how many turns the runs are split into.

  Returns:
    {name: median seconds per invoke}.
  """
  batch = np.asarray(image, np.float32)[None]
  interpreters = {}
  for name, tflite_bytes in models.items():
    interpreter, input_index, _ = _interpreter(tflite_bytes, batch.shape, 1, resolver)
    interpreter.set_tensor(input_index, batch)
    for _ in range(3):
      interpreter.invoke()
    interpreters[name] = interpreter
  times = {name: [] for name in models}
  per_round = max(1, runs // rounds)
  for _ in range(rounds):
    for name, interpreter in interpreters.items():
      for _ in range(per_round):
        start = time.perf_counter()
        interpreter.invoke()
        times[name].append(time.perf_counter() - start)
  return {name: float(np.median(values)) for name, values in times.items()}
