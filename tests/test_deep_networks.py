"""ResNet and VGG with BatchNorm, global pruning, rewinding to iteration k, and bit-exact resume of
a BatchNorm + augmentation + SGD-schedule run."""

import os

import numpy as np
import pandas as pd
import pytest

from cifar_conv import constants
from foundations import batching
from foundations import checkpointing
from foundations import model_state
from foundations import optimizers
from foundations import pruning
from foundations import trainer as trainer_lib
from tests import conftest
from tests import runs

LOTTERY = 'cifar_conv.runners.lottery_experiment'


def _weights(model):
  return sum(int(np.prod(s)) for s in model_state.expected_mask_shapes(model).values())


def test_resnet20_weight_counts():
  spec = constants.NETWORKS['resnet20']
  shapes = model_state.expected_mask_shapes(spec.build((32, 32, 3), 10))
  count = lambda names: sum(int(np.prod(shapes[n])) for n in names)  # pylint: disable=g-long-lambda
  shortcuts = [n for n in shapes if 'shortcut' in n]
  assert count(spec.globally_pruned_layers) == 267_696
  assert count(shortcuts) == 2_560 and count(['output']) == 640
  assert count(shapes) == 270_896
  assert set(spec.globally_pruned_layers) == set(shapes) - set(shortcuts) - {'output'}


@pytest.mark.parametrize('name, conv_weights', [('vgg19', 20_018_880), ('vgg16', 14_710_464)])
def test_vgg_weight_counts(name, conv_weights):
  spec = constants.NETWORKS[name]
  shapes = model_state.expected_mask_shapes(spec.build((32, 32, 3), 10))
  assert sum(int(np.prod(shapes[n])) for n in spec.globally_pruned_layers) == conv_weights
  assert int(np.prod(shapes['output'])) == 5_120
  assert set(spec.globally_pruned_layers) == set(shapes) - {'output'}


def test_batch_norm_is_saved_state_but_never_masked():
  model = constants.NETWORKS['resnet20'].build((32, 32, 3), 10)
  weights = model_state.expected_weight_shapes(model)
  for kind in ('gamma', 'beta', 'moving_mean', 'moving_variance'):
    assert weights[f'stage2_block1_bn1/{kind}'] == (32,)
  assert not any('bn' in name for name in model_state.expected_mask_shapes(model))
  initial = model_state.sample_initial_weights(model, seed=0)
  assert set(initial) == set(weights)
  np.testing.assert_array_equal(initial['bn1/moving_variance'], np.ones(16))


def test_global_pruning_counts_on_resnet20():
  spec = constants.NETWORKS['resnet20']
  model = spec.build((32, 32, 3), 10)
  rng = np.random.default_rng(0)
  weights = {f'{n}/kernel': rng.normal(size=s)
             for n, s in model_state.expected_mask_shapes(model).items()}
  masks = {n: np.ones(s, np.float32) for n, s in model_state.expected_mask_shapes(model).items()}
  layers = spec.globally_pruned_layers
  for _ in range(3):
    new = pruning.prune_global(layers, spec.global_prune_rate, masks, weights)
    before = sum(int(masks[n].sum()) for n in layers)
    assert sum(int(new[n].sum()) for n in layers) == before - pruning.count_to_remove(0.2, before)
    assert all(np.all(new[n] <= masks[n]) for n in masks)  # monotone
    assert all(new[n].all() for n in masks if n not in layers)  # shortcuts, output untouched
    masks = new
  per_layer, _ = pruning.percent_remaining(masks)
  assert len({round(p) for n, p in per_layer.items() if n in layers}) > 1  # pooled, not per layer


def test_training_in_parts_equals_training_in_full(tmp_path):
  """0 -> 6 then 6 -> 12 (resumed from a checkpoint between evaluations) equals 0 -> 12, with
  BatchNorm, augmentation, SGD with weight decay, warmup and a milestone."""
  spec = constants.NETWORKS['resnet20']
  rng = np.random.default_rng(0)
  images = rng.integers(0, 255, (48, 8, 8, 3)).astype(np.uint8)
  labels = rng.integers(0, 10, 48).astype(np.uint8)
  model = spec.build((8, 8, 3), 10, channel_statistics=([0.5] * 3, [0.3] * 3))
  t = trainer_lib.Trainer(model, optimizers.create('sgd', 0.1, 0.9), (images, labels),
                          (images[:8], labels[:8]), (images[:8], labels[:8]), jit_compile=False,
                          schedule=optimizers.Schedule(0.1, (8,), 0.1, 2), weight_decay=1e-4,
                          augment_seed=5)
  t.max_chunk_iterations = 3  # compiled calls end at 3, 4 (evaluation), 6, 8, 9, 12
  initial = model_state.sample_initial_weights(model, seed=0)
  masks = {n: np.ones(s, np.float32) for n, s in model_state.expected_mask_shapes(model).items()}
  order = batching.BatchOrder(48, 16, seed=2)
  full = t.train(initial, masks, 12, order, eval_interval=4)
  saver = runs.SaveAt(6)
  t.train(initial, masks, 12, order, eval_interval=4, checkpoint=saver)
  checkpointer = checkpointing.Checkpointer(str(tmp_path / 'checkpoint.npz'))
  checkpointer.save(saver.states[0])  # through the file, as a resumed run reads it
  state = checkpointer.load()
  assert state.iteration == 6 and len(state.rows) == 2 and len(state.interval) == 1  # 0 and 4
  resumed = t.train(initial, masks, 12, order, eval_interval=4, resume=state)
  for key, value in full.final_weights.items():
    np.testing.assert_array_equal(resumed.final_weights[key], value, err_msg=key)
  pd.testing.assert_frame_equal(resumed.history, full.history, check_exact=True)
  assert list(full.history['iteration']) == [0, 4, 8, 12]


def _flags(cifar_dataset, output_dir, iterations=60):
  return [f'--dataset_path={cifar_dataset}', f'--output_dir={output_dir}', '--network=resnet20',
          f'--training_iterations={iterations}', '--eval_interval=20', '--validation_size=40',
          '--batch_size=16', '--lr_milestones=30', '--progress_seconds=0']


def _lottery_flags(cifar_dataset, output_dir):
  return _flags(cifar_dataset, output_dir) + [
      '--levels=2', '--rewind_iteration=10', '--report_iterations=30,60',
      '--checkpoint_interval=20']


@pytest.fixture(scope='module')
def rewound(cifar_dataset, tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp('rewound'))
  process = conftest.run_module(LOTTERY, *_lottery_flags(cifar_dataset, output_dir))
  assert process.returncode == 0, process.stderr
  return output_dir


def _load(run_dir, name):
  with np.load(os.path.join(run_dir, name)) as data:
    return {k: data[k] for k in data.files}


def test_rewound_levels_start_from_the_dense_runs_weights_at_k(rewound, cifar_dataset, tmp_path):
  process = conftest.run_module('cifar_conv.runners.train',
                                *_flags(cifar_dataset, str(tmp_path), iterations=10))
  assert process.returncode == 0, process.stderr
  at_k = _load(os.path.join(str(tmp_path), 'trial1', 'train'), 'final.npz')
  assert at_k.keys() == _load(os.path.join(rewound, 'trial1'), 'rewind_iteration10.npz').keys()
  for level in (1, 2):
    run_dir = os.path.join(rewound, 'trial1', f'level{level}', 'lottery')
    masks, initial = _load(run_dir, 'masks.npz'), _load(run_dir, 'initial.npz')
    for key, value in at_k.items():  # kernels (survivors), biases and BatchNorm state
      layer = key.split('/')[0]
      expected = value * masks[layer] if key.endswith('/kernel') else value
      np.testing.assert_array_equal(initial[key], expected, err_msg=f'level {level} {key}')
    summary = conftest.read_summary(run_dir)
    assert summary['start_iteration'] == 10 and summary['pruning'] == 'global'
    assert sorted(summary['test_accuracy_at_report_iterations']) == ['30', '60']
    metrics = pd.read_csv(os.path.join(run_dir, 'metrics.csv'))
    # the rewound start (untrained), then evaluations and report iterations
    assert list(metrics['iteration']) == [10, 20, 30, 40, 60]


def test_rewound_masks_shrink_globally_and_leave_shortcuts_and_output(rewound):
  previous = None
  layers = constants.NETWORKS['resnet20'].globally_pruned_layers
  for level in range(3):
    masks = _load(os.path.join(rewound, 'trial1', f'level{level}', 'lottery'), 'masks.npz')
    assert masks['output'].all() and masks['stage2_block1_shortcut'].all()
    if previous is not None:
      assert all(np.all(masks[n] <= previous[n]) for n in masks)
      before = sum(int(previous[n].sum()) for n in layers)
      assert sum(int(masks[n].sum()) for n in layers) == before - pruning.count_to_remove(
          0.2, before)
    previous = masks


@pytest.mark.slow  # 3 processes; BN+SGD resume: test_training_in_parts_equals_training_in_full
def test_killed_batch_norm_sgd_run_resumes_bit_for_bit(rewound, cifar_dataset, tmp_path):
  output_dir = str(tmp_path / 'killed')
  args = _lottery_flags(cifar_dataset, output_dir)
  runs.run_until(LOTTERY, args, 'level0 lottery] iteration 40/60')
  assert 'resuming from the checkpoint' in runs.run_until(LOTTERY, args,
                                                          'level1 lottery] iteration 40/60')
  process = conftest.run_module(LOTTERY, *args)
  assert process.returncode == 0, process.stderr
  assert 'resuming from the checkpoint' in process.stdout
  runs.assert_same_results(rewound, output_dir)


@pytest.mark.parametrize('module, flags, message', [
    (LOTTERY, ['--rewind_iteration=60'], '--rewind_iteration=60: expected an iteration in [0, '),
    (LOTTERY, ['--dropout'], '--dropout: resnet20 has no dropout variant'),
    (LOTTERY, ['--lr_milestones=30,abc'], '--lr_milestones=30,abc: expected comma-separated int'),
    (LOTTERY, ['--momentum=1.5'], '--momentum=1.5: expected a number in [0, 1)'),
    ('cifar_conv.runners.one_shot', ['--percent_remaining=0.5'], '--percent_remaining=0.5: '
     'unreachable, layers that are never pruned already hold 1.18% of the weights'),
    ('mnist_fc.runners.lottery_experiment', ['--warmup'],
     '--warmup: lenet300_100 has no warmup variant; set --warmup_iterations instead'),
])
def test_bad_deep_network_flags(cifar_dataset, tmp_path, module, flags, message):
  output_dir = str(tmp_path / 'out')
  base = _flags(cifar_dataset, output_dir)
  if module.startswith('mnist_fc'):
    base = [flag for flag in base if not flag.startswith(('--network', '--dataset_path'))]
  process = conftest.run_module(module, *base, *flags)
  assert process.returncode == 2, process.stderr
  errors_ = [line for line in process.stderr.splitlines() if line.startswith('error:')]
  assert len(errors_) == 1 and message in errors_[0], process.stderr
  assert 'Traceback' not in process.stderr and not os.path.exists(output_dir)


def test_report_shows_accuracy_at_the_report_iterations(rewound, tmp_path):
  from lottery_ticket.analysis import report  # pylint: disable=g-import-not-at-top
  written = report.write_report(rewound, str(tmp_path))
  assert os.path.getsize(written['figure_iterations.png']) > 10_000
  text = open(written['report.md']).read()
  assert '## Test accuracy at the report iterations' in text and 'iteration 60' in text
  runs = pd.read_csv(written['runs.csv']).set_index('run')
  for level in range(3):
    run = f'trial1/level{level}/lottery'
    summary = conftest.read_summary(os.path.join(rewound, run))
    for iteration, accuracy in summary['test_accuracy_at_report_iterations'].items():
      assert runs.loc[run, f'test_accuracy_at_{iteration}'] == pytest.approx(accuracy)


def test_compare_draws_experiments_side_by_side(rewound, tmp_path):
  process = conftest.run_module('lottery_ticket.analysis.compare',
                                f'--experiment_dirs={rewound},{rewound}', '--labels=a,b',
                                f'--output_dir={tmp_path}')
  assert process.returncode == 0, process.stderr
  table = pd.read_csv(tmp_path / 'comparison.csv')
  assert sorted(set(table['experiment'])) == ['a', 'b'] and len(table) == 6
  assert 'test_accuracy_at_60_mean' in table.columns
  assert os.path.getsize(tmp_path / 'comparison.png') > 10_000
  process = conftest.run_module('lottery_ticket.analysis.compare', f'--experiment_dirs={rewound}',
                                '--labels=a,b', f'--output_dir={tmp_path / "other"}')
  assert process.returncode == 2 and 'error: --labels: 2 labels for 1' in process.stderr
  assert not os.path.exists(tmp_path / 'other')
