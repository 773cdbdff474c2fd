"""Export a finished run (a ticket, a control, a dense run) as a deployable sparse model.

  python -m lottery_ticket.export --run_dir=RUN --output_dir=OUT [--dataset_path=DIR]

writes into OUT (atomically: a hidden partial directory renamed into place):
  model.keras                 the plain tf_keras network (Dense/Conv2D, no mask layers) with the
                              run's final weights, pruned entries exactly zero, made with tfmot's
                              prune_low_magnitude and strip_pruning (foundations.tfmot_models);
  model_float32.tflite        TFLite, float32, sparse weight encoding where it applies;
  model_dynamic_range.tflite  TFLite, dynamic-range quantised (int8 weights), sparse encoding;
  export.json                 sizes raw and gzipped against the dense network's, per-layer
                              sparsity counted from the exported weights, test accuracy of the
                              Keras model and of each TFLite model, single-image latency,
                              the TFLite interpreter used (LiteRT's ai_edge_litert, else
                              tf.lite) and which of its settings load each .tflite file.

The line printed at the end names export.json and every .tflite file that a default interpreter
cannot load (with the setting that does load it).

The dense network compared against is the trial's level-0 lottery run when the experiment has
one, else an untrained dense network of the same architecture (same sizes and latency).
"""

import os
import shutil
import sys
import tempfile

from absl import app
from absl import flags

from foundations import console
from foundations import errors
from foundations import interrupts
from foundations import paths
from foundations import save_restore
from lottery_ticket import export_checks

FLAGS = flags.FLAGS
EXPORT_JSON = export_checks.EXPORT_JSON
KERAS_FILE = 'model.keras'
FLOAT_TOLERANCE_POINTS = 0.05  # the float TFLite model's test accuracy vs the Keras model's


def _tflite_name(variant):
  return f'model_{variant}.tflite'


def _exported_models(run, model):
  """(ticket model, dense model, dense source) as plain tf_keras models."""
  # pylint: disable=g-import-not-at-top  (TensorFlow: only once the checks have passed)
  import numpy as np
  from foundations import model_state
  from foundations import tfmot_models
  masks_path = os.path.join(run.run_dir, paths.MASKS)
  masks = save_restore.load_arrays(masks_path)
  model_state.check_masks(masks, model, masks_path)
  weights_path = os.path.join(run.run_dir, paths.FINAL_WEIGHTS)
  weights = save_restore.load_arrays(weights_path)
  model_state.check_arrays(weights, model_state.expected_weight_shapes(model), weights_path)
  ticket = tfmot_models.sparse_model(model, masks, weights)
  exported = tfmot_models.get_weights(ticket)
  for key, value in weights.items():
    expected = value * masks[key.split('/')[0]] if key.endswith('/kernel') else value
    if not np.array_equal(exported[key], expected):
      raise RuntimeError(f'exported {key} differs from {weights_path}')
  ones = {name: np.ones_like(mask) for name, mask in masks.items()}
  if run.dense_run_dir:
    dense_weights = save_restore.load_arrays(os.path.join(run.dense_run_dir, paths.FINAL_WEIGHTS))
    model_state.check_arrays(dense_weights, model_state.expected_weight_shapes(model),
                             run.dense_run_dir)
    source = os.path.relpath(run.dense_run_dir, run.experiment_dir)
  else:
    dense_weights = model_state.sample_initial_weights(model, 0)
    source = 'an untrained dense network of the same architecture'
  dense = tfmot_models.sparse_model(model, ones, dense_weights)
  model_state.set_weights(model, weights)
  model_state.set_masks(model, masks)
  return ticket, dense, source, masks


def _layers(ticket, masks):
  """Per-layer sparsity counted from the exported kernels, beside the masks' counts."""
  from foundations import tfmot_models  # pylint: disable=g-import-not-at-top
  nonzero = tfmot_models.nonzero_masks(ticket, masks)
  return {name: dict(remaining=int(nonzero[name].sum()), total=int(mask.size),
                     mask_remaining=int(mask.sum()),
                     percent_remaining=100.0 * float(nonzero[name].sum()) / mask.size)
          for name, mask in masks.items()}


def export(run, output_dir, dataset, latency_runs):
  """Writes the exported files of `run` (an export_checks.RunToExport) into output_dir."""
  console.import_tensorflow()
  from foundations import tflite_files  # pylint: disable=g-import-not-at-top
  summary = run.summary
  dropout = run.spec.dropout_rate if summary.get('dropout') else 0.0
  model = run.spec.build(dataset.input_shape, dataset.num_classes, dropout)
  ticket, dense, dense_source, masks = _exported_models(run, model)
  images, labels = dataset.test
  masked_logits = tflite_files.keras_predict(model, images)
  keras_logits = tflite_files.keras_predict(ticket, images)
  partial = paths.start(output_dir)
  try:
    _write(partial, run, ticket, dense, dense_source, masks, dataset, latency_runs,
           masked_logits, keras_logits)
  except BaseException:
    shutil.rmtree(partial, ignore_errors=True)
    raise
  paths.commit(partial, output_dir)
  return os.path.join(output_dir, EXPORT_JSON)


def _write(partial, run, ticket, dense, dense_source, masks, dataset, latency_runs,
           masked_logits, keras_logits):
  """Writes every exported file into the partial directory."""
  # pylint: disable=g-import-not-at-top
  import numpy as np
  import tensorflow as tf
  from foundations import tflite_files
  summary = run.summary
  images, labels = dataset.test
  ticket.save(os.path.join(partial, KERAS_FILE))
  files, accuracy, latency_models = {}, {}, {}
  with tempfile.TemporaryDirectory() as scratch:
    dense.save(os.path.join(scratch, KERAS_FILE))
    with open(os.path.join(scratch, KERAS_FILE), 'rb') as f:
      dense_keras = f.read()
  with open(os.path.join(partial, KERAS_FILE), 'rb') as f:
    sizes = {KERAS_FILE: (f.read(), dense_keras)}
  for variant in tflite_files.VARIANTS:
    data, dense_data = tflite_files.convert(ticket, variant), tflite_files.convert(dense, variant)
    save_restore.save_bytes(os.path.join(partial, _tflite_name(variant)), data)
    sizes[_tflite_name(variant)] = (data, dense_data)
    accuracy[f'tflite_{variant}'] = tflite_files.accuracy(
        tflite_files.predict(data, images), labels)
    latency_models[f'ticket_{variant}'], latency_models[f'dense_{variant}'] = data, dense_data
  for name, (data, dense_data) in sizes.items():
    files[name] = dict(bytes=len(data), gzip_bytes=tflite_files.gzip_bytes(data),
                       dense_bytes=len(dense_data),
                       dense_gzip_bytes=tflite_files.gzip_bytes(dense_data))
    if name.endswith('.tflite'):
      files[name]['loads_with'] = tflite_files.loads_with(data)
  accuracy['keras'] = tflite_files.accuracy(keras_logits, labels)
  accuracy['masked_network'] = tflite_files.accuracy(masked_logits, labels)
  layers = _layers(ticket, masks)
  float_difference = 100 * (accuracy['tflite_float32'] - accuracy['keras'])
  latency = {}  # builtin kernels run every model; XNNPACK (TFLite's default) only some
  for resolver in tflite_files.RESOLVERS:
    runnable = {name: data for name, data in latency_models.items()
                if tflite_files.runs_with(data, resolver)}
    latency[resolver] = {name: 1000 * seconds for name, seconds in tflite_files.latency_seconds(
        runnable, images[0], latency_runs, resolver).items()}
  save_restore.save_json(os.path.join(partial, EXPORT_JSON), dict(
      run_dir=os.path.abspath(run.run_dir), network=run.spec.name,
      dataset=dataset.name, experiment=summary.get('experiment'), level=summary.get('level'),
      trial=summary.get('trial'), percent_remaining=summary.get('percent_remaining'),
      dense_reference=dense_source, files=files, layers=layers,
      sparsity_equals_masks=all(layer['remaining'] == layer['mask_remaining']
                                for layer in layers.values()),
      keras_max_abs_logit_difference=float(np.max(np.abs(keras_logits - masked_logits))),
      test_accuracy=accuracy, test_examples=len(labels),
      float_tflite_minus_keras_points=float_difference,
      float_tflite_within_tolerance=abs(float_difference) <= FLOAT_TOLERANCE_POINTS,
      latency_ms=latency,
      latency_runs=latency_runs, latency_threads=1, tensorflow_version=tf.__version__,
      tflite_interpreter=tflite_files.interpreter_package()))


def summary_line(path):
  """The line printed after an export: export.json's path, and files needing other settings."""
  from foundations import tflite_files  # pylint: disable=g-import-not-at-top
  notes = []
  for name, entry in sorted(save_restore.load_json_object(path)['files'].items()):
    loads = entry.get('loads_with', {'default': True})
    if loads['default']:
      continue
    working = [key for key in tflite_files.LOAD_SETTINGS if loads.get(key)]
    if working:
      resolver = tflite_files.LOAD_SETTINGS[working[0]]
      notes.append(f'{name} loads only with {working[0].replace("_", " ")} '
                   f'({tflite_files.resolver_setting(resolver)})')
    else:
      notes.append(f'{name} loads with none of {", ".join(sorted(loads))}')
  return '; '.join([f'export: {path}'] + notes)


def main(argv):
  errors.check_command_line(argv)
  with interrupts.handled():
    try:
      if FLAGS.latency_runs < 1:
        raise errors.UserInputError(f'--latency_runs={FLAGS.latency_runs}: expected an '
                                    'integer >= 1')
      run = export_checks.check_run_dir(FLAGS.run_dir)
      export_checks.check_output_dir(FLAGS.output_dir, FLAGS.run_dir)
      dataset = export_checks.load_dataset(run, FLAGS.dataset_path)
      path = export(run, FLAGS.output_dir, dataset, FLAGS.latency_runs)
    except errors.UserInputError as e:
      errors.exit_with_error(str(e))
    except OSError as e:
      errors.exit_with_error(errors.os_error_message(e, 'output_dir', FLAGS.output_dir or '.'))
    except interrupts.Interrupted as e:
      print(f'{e}; nothing was exported', file=sys.stderr, flush=True)
      sys.exit(e.exit_status)
  print(summary_line(path), flush=True)


if __name__ == '__main__':
  flags.DEFINE_string('run_dir', None, 'A finished run directory (with summary.json).')
  flags.DEFINE_string('output_dir', None, 'Directory for the exported files.')
  flags.DEFINE_string('dataset_path', None,
                      'Where the run\'s dataset is (default: where the run read it).')
  flags.DEFINE_integer('latency_runs', 1000, 'Single-image invokes timed per TFLite model.')
  app.run(main, flags_parser=console.parse_flags())
