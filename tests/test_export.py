"""lottery_ticket.export: a finished ticket becomes a plain tf_keras model and TFLite files that
compute what the masked network computes, with exactly the ticket's sparsity."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from foundations import model_state
from foundations import save_restore
from foundations import tflite_files
from lottery_ticket import datasets
from lottery_ticket import export
from mnist_fc import constants as mnist_constants
from cifar_conv import constants as conv_constants
from tests import conftest


def _export(run_dir, output_dir):
  process = conftest.run_module('lottery_ticket.export', f'--run_dir={run_dir}',
                                f'--output_dir={output_dir}', '--latency_runs=20')
  assert process.returncode == 0, process.stderr[-3000:]
  assert 'deprecat' not in process.stderr.lower(), process.stderr[-3000:]  # LiteRT, not tf.lite
  with open(os.path.join(output_dir, 'export.json')) as f:
    exported = json.load(f)
  summary = process.stdout.strip().splitlines()[-1]
  assert summary.startswith(f'export: {os.path.join(output_dir, "export.json")}'), summary
  for name in ('model_float32.tflite', 'model_dynamic_range.tflite'):
    loads = exported['files'][name]['loads_with']
    assert loads['builtin_kernels']
    note = (f'{name} loads only with builtin kernels '
            '(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)')
    assert (note in summary) == (not loads['default']), summary
  return exported


def _masked_network(spec, run_dir, input_shape):
  model = spec.build(input_shape, 10)
  masks = save_restore.load_arrays(os.path.join(run_dir, 'masks.npz'))
  model_state.set_weights(model, save_restore.load_arrays(os.path.join(run_dir, 'final.npz')))
  model_state.set_masks(model, masks)
  return model, masks


def _check_export(spec, run_dir, output_dir, images):
  """The checks every export must pass; returns export.json."""
  exported = _export(run_dir, output_dir)
  network, masks = _masked_network(spec, run_dir, images.shape[1:])
  model = keras.models.load_model(os.path.join(output_dir, 'model.keras'))
  assert not any('Masked' in type(layer).__name__ for layer in model.layers)
  expected = network(images.astype(np.float32), training=False).numpy()
  np.testing.assert_array_equal(model(images.astype(np.float32), training=False).numpy(),
                                expected)
  kernels = {layer.name: layer.kernel.numpy() for layer in model.layers
             if hasattr(layer, 'kernel')}
  assert sorted(kernels) == sorted(masks)
  for name, mask in masks.items():
    np.testing.assert_array_equal(kernels[name] != 0, mask == 1, err_msg=name)
    assert exported['layers'][name]['remaining'] == int(mask.sum())
  assert exported['sparsity_equals_masks'] and exported['float_tflite_within_tolerance']
  with open(os.path.join(output_dir, 'model_float32.tflite'), 'rb') as f:
    logits = tflite_files.predict(f.read(), images)
  np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=1e-4)
  assert np.array_equal(logits.argmax(-1), expected.argmax(-1))
  for name in ('model.keras', 'model_float32.tflite', 'model_dynamic_range.tflite'):
    sizes = exported['files'][name]
    assert sizes['bytes'] == os.path.getsize(os.path.join(output_dir, name))
  assert exported['tflite_interpreter']['package'] == 'ai_edge_litert'
  assert 'loads_with' not in exported['files']['model.keras']
  for variant in tflite_files.VARIANTS:  # XNNPACK latency exactly for what loads by default
    loads = exported['files'][f'model_{variant}.tflite']['loads_with']
    assert (f'ticket_{variant}' in exported['latency_ms']['xnnpack']) == loads['default']
  return exported


def test_lenet_ticket_export(lenet_ticket, idx_dataset, tmp_path, monkeypatch):
  images = datasets.load('mnist', idx_dataset, 100).test[0][:50]
  run_dir = f'{lenet_ticket}/trial1/level3/lottery'
  exported = _check_export(mnist_constants.LENET, run_dir, str(tmp_path / 'export'), images)
  assert exported['dense_reference'] == 'trial1/level0/lottery'
  assert exported['percent_remaining'] == pytest.approx(51.3, abs=0.05)
  gzipped = exported['files']['model_float32.tflite']
  assert gzipped['gzip_bytes'] < 0.8 * gzipped['dense_gzip_bytes']
  assert set(exported['latency_ms']['builtin']) == {
      'ticket_float32', 'ticket_dynamic_range', 'dense_float32', 'dense_dynamic_range'}
  files = exported['files']  # XNNPACK cannot run sparse dynamic-range FULLY_CONNECTED
  assert files['model_float32.tflite']['loads_with'] == {'default': True, 'builtin_kernels': True}
  assert files['model_dynamic_range.tflite']['loads_with'] == {
      'default': False, 'builtin_kernels': True}
  monkeypatch.setitem(sys.modules, 'ai_edge_litert', None)  # tf.lite's interpreter agrees
  for name in ('model_float32.tflite', 'model_dynamic_range.tflite'):
    with open(os.path.join(tmp_path, 'export', name), 'rb') as f:
      with pytest.warns(UserWarning, match='tf.lite.Interpreter is deprecated'):
        assert tflite_files.loads_with(f.read()) == files[name]['loads_with'], name


def test_summary_line(tmp_path):
  """The printed line names each file that a default interpreter cannot load."""
  path = str(tmp_path / 'export.json')
  save_restore.save_json(path, dict(files={
      'model.keras': {}, 'a.tflite': dict(loads_with=dict(default=True, builtin_kernels=True)),
      'b.tflite': dict(loads_with=dict(default=False, builtin_kernels=True)),
      'c.tflite': dict(loads_with=dict(default=False, builtin_kernels=False))}))
  assert export.summary_line(path) == (
      f'export: {path}; b.tflite loads only with builtin kernels '
      '(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES); '
      'c.tflite loads with none of builtin_kernels, default')


def test_tf_lite_fallback(monkeypatch):
  """Without ai_edge_litert, tf.lite's interpreter (same API) loads and times the models."""
  monkeypatch.setitem(sys.modules, 'ai_edge_litert', None)  # import raises ImportError
  assert tflite_files.interpreter_package()['package'] == 'tf.lite'
  interpreter_class, resolver_type, _ = tflite_files._runtime()  # pylint: disable=protected-access
  assert interpreter_class is tf.lite.Interpreter
  for name in tflite_files.RESOLVERS.values():
    assert hasattr(resolver_type, name)


def test_conv_ticket_export(cifar_dataset, tmp_path):
  out = str(tmp_path / 'conv')
  process = conftest.run_module(
      'cifar_conv.runners.lottery_experiment', '--network=conv2', '--levels=1',
      f'--dataset_path={cifar_dataset}', f'--output_dir={out}', '--validation_size=40',
      '--training_iterations=2', '--eval_interval=1', '--batch_size=10')
  assert process.returncode == 0, process.stderr[-3000:]
  images = datasets.load('cifar10', cifar_dataset, 40).test[0][:8]
  exported = _check_export(conv_constants.NETWORKS['conv2'], f'{out}/trial1/level1/lottery',
                           str(tmp_path / 'export'), images)
  assert exported['layers']['conv1']['remaining'] < exported['layers']['conv1']['total']
