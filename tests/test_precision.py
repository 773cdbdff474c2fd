"""--precision=mixed_bfloat16: bfloat16 compute with float32 weights, masks and checkpoints;
pruned weights stay zero, a resumed run equals an uninterrupted one bit for bit, and the
setting is recorded and kept per output directory."""

import json
import os

import numpy as np
import tf_keras as keras

from foundations import batching
from foundations import checkpointing
from foundations import cpu_features
from foundations import model_state
from foundations import optimizers
from foundations import trainer as trainer_lib
from mnist_fc import model as lenet
from tests import conftest
from tests import runs

LOTTERY = 'mnist_fc.runners.lottery_experiment'


def test_bfloat16_training_keeps_float32_state_and_resumes_bit_for_bit(tmp_path):
  keras.mixed_precision.set_global_policy('mixed_bfloat16')
  try:
    net = lenet.build((28, 28, 1), 10)
  finally:
    keras.mixed_precision.set_global_policy('float32')
  assert net.get_layer('hidden1').compute_dtype == 'bfloat16'
  rng = np.random.default_rng(0)
  images = rng.integers(0, 255, (40, 28, 28, 1)).astype(np.uint8)
  labels = rng.integers(0, 10, 40).astype(np.uint8)
  t = trainer_lib.Trainer(net, optimizers.create('adam', 1e-3, 0.0), (images, labels),
                          (images[:10], labels[:10]), (images[:10], labels[:10]))
  t.max_chunk_iterations = 3
  initial = model_state.sample_initial_weights(net, seed=0)
  masks = {k: (rng.random(s) < 0.5).astype(np.float32)
           for k, s in model_state.expected_mask_shapes(net).items()}
  order = batching.BatchOrder(40, 10, seed=1)
  full = t.train(initial, masks, 12, order, eval_interval=4)
  saver = runs.SaveAt(6)
  t.train(initial, masks, 12, order, eval_interval=4, checkpoint=saver)
  checkpointer = checkpointing.Checkpointer(str(tmp_path / 'checkpoint.npz'))
  checkpointer.save(saver.states[0])
  resumed = t.train(initial, masks, 12, order, eval_interval=4, resume=checkpointer.load())
  for key, value in full.final_weights.items():
    assert value.dtype == np.float32, key
    np.testing.assert_array_equal(resumed.final_weights[key], value, err_msg=key)
  for name, mask in masks.items():  # pruned weights stay zero
    assert not full.final_weights[f'{name}/kernel'][mask == 0].any(), name
  assert np.isfinite(full.history['train_loss'][1:]).all()


def test_the_loss_scale_is_reset_per_run_and_kept_in_checkpoints(tmp_path):
  """mixed_float16's LossScaleOptimizer: its loss scale and good-step count (outside
  `optimizer.variables`) start afresh every run and resume from a checkpoint bit for bit."""
  net = lenet.build((28, 28, 1), 10)
  rng = np.random.default_rng(0)
  images = rng.integers(0, 255, (40, 28, 28, 1)).astype(np.uint8)
  labels = rng.integers(0, 10, 40).astype(np.uint8)
  optimizer = keras.mixed_precision.LossScaleOptimizer(  # the scale doubles every 2 steps
      optimizers.create('adam', 1e-3, 0.0), dynamic_growth_steps=2)
  t = trainer_lib.Trainer(net, optimizer, (images, labels), (images[:10], labels[:10]),
                          (images[:10], labels[:10]))
  t.max_chunk_iterations = 3
  initial = model_state.sample_initial_weights(net, seed=0)
  masks = {k: np.ones(s, np.float32) for k, s in model_state.expected_mask_shapes(net).items()}
  order = batching.BatchOrder(40, 10, seed=1)
  full = t.train(initial, masks, 12, order, eval_interval=4)
  assert float(optimizer.loss_scale) > float(optimizer.initial_scale)  # it grew in the run
  saver = runs.SaveAt(6)
  again = t.train(initial, masks, 12, order, eval_interval=4, checkpoint=saver)
  assert any(np.ndim(v) == 0 and v == 2.0 ** 18 for v in saver.states[0].variables.values())
  checkpointer = checkpointing.Checkpointer(str(tmp_path / 'checkpoint.npz'))
  checkpointer.save(saver.states[0])
  resumed = t.train(initial, masks, 12, order, eval_interval=4, resume=checkpointer.load())
  for key, value in full.final_weights.items():
    np.testing.assert_array_equal(again.final_weights[key], value, err_msg=key)
    np.testing.assert_array_equal(resumed.final_weights[key], value, err_msg=key)


def test_runner_records_the_precision_and_keeps_it_per_directory(idx_dataset, tmp_path):
  out = str(tmp_path / 'bf16')
  flags = conftest.small_run_flags(idx_dataset, out, iterations=20) + ['--levels=1']
  process = conftest.run_module(LOTTERY, *flags, '--precision=mixed_bfloat16')
  assert process.returncode == 0, process.stderr[-3000:]
  with open(os.path.join(out, 'experiment.json')) as f:
    assert json.load(f)['precision'] == 'mixed_bfloat16'
  emulated = cpu_features.has_native_bfloat16() is False  # this CPU: one warning line, or none
  assert ('warning: --precision=mixed_bfloat16 on a CPU without' in process.stderr) == emulated
  level1 = os.path.join(out, 'trial1', 'level1', 'lottery')
  assert conftest.read_summary(level1)['precision'] == 'mixed_bfloat16'
  with np.load(os.path.join(level1, 'masks.npz')) as masks, \
       np.load(os.path.join(level1, 'final.npz')) as final:
    assert {masks[k].dtype for k in masks.files} == {np.dtype(np.float32)}
    assert {final[k].dtype for k in final.files} == {np.dtype(np.float32)}
    assert masks['hidden1'].mean() < 1 and not final['hidden1/kernel'][masks['hidden1'] == 0].any()
  process = conftest.run_module(LOTTERY, *flags)  # float32 into a bfloat16 directory
  assert process.returncode == 2
  assert '--precision=float32 (was mixed_bfloat16)' in process.stderr, process.stderr[-2000:]
