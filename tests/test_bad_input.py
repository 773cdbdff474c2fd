"""Bad input, fuzz-style: every runner and the report against a table of user mistakes.

Each case must end with exit status 2 and exactly one `error:` line that names the flag or file
at fault, print no traceback, and leave its directory exactly as it was (the output directory
absent if it was absent). Cases not marked `network` must fail before TensorFlow is imported
(checked with Python's -X importtime). All cases run at once, as parallel subprocesses of the
real entry points (python -m ...).
"""

import collections
import concurrent.futures
import os
import pickle
import re
import shutil

import numpy as np
import pytest

from foundations import save_restore
from lottery_ticket import config as config_lib
from lottery_ticket import recorded_settings
from lottery_ticket.datasets import idx
from lottery_ticket.datasets import synthetic
from tests import conftest
from tests import test_analysis_report

MNIST = 'mnist_fc.runners'
CONV = 'cifar_conv.runners'
REPORT = 'lottery_ticket.analysis.report'
EXPORT = 'lottery_ticket.export'
SWEEP = 'lottery_ticket.sweep'
MASKS = 'lottery_ticket.analysis.masks'
DEFAULT_FLAGS = {  # before each case's own flags; absl keeps the last value of a flag
    MNIST: ['--dataset_path={idx}', '--output_dir={out}', '--validation_size=100',
            '--training_iterations=20', '--eval_interval=10', '--batch_size=20'],
    CONV: ['--dataset_path={cifar}', '--output_dir={out}', '--validation_size=40',
           '--training_iterations=2', '--eval_interval=1', '--batch_size=10'],
    REPORT: ['--experiment_dir={experiment}', '--output_dir={out}'],
    MASKS: ['--experiment_dir={experiment}', '--output_dir={out}'],
    SWEEP: ['--dataset_path={idx}', '--output_dir={out}', '--validation_size=100',
            '--training_iterations=20', '--eval_interval=10', '--batch_size=20', '--levels=2'],
    EXPORT: ['--run_dir={tmp}/exp/trial1/level1/lottery', '--output_dir={out}',
             '--latency_runs=5'],
}
GARBAGE = b'PK\x03\x04 this is not what the file should hold \x00\xff' * 4
LENET_SHAPES = {'hidden1': (784, 300), 'hidden2': (300, 100), 'output': (100, 10)}

Case = collections.namedtuple('Case', 'name module flags names setup network env')


def _case(name, module, flags, names, setup=None, network=False, env=None):
  """A bad input: `names` (a template, like `flags`) must appear in the error line; `env`:
  more environment variables of the runner."""
  return Case(name, module, flags, names, setup, network, env)


def _write(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(data.encode() if isinstance(data, str) else data)


def _truncate(path):
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)


def _idx(d, gz=False):
  return synthetic.make_idx_dataset(os.path.join(d['tmp'], 'data'), gz=gz)


def _cifar(d):
  return synthetic.make_cifar_dataset(os.path.join(d['tmp'], 'data'))


def _pickle(path, value):
  with open(path, 'wb') as f:
    pickle.dump(value, f)


def _masks(**changes):
  masks = {name: np.ones(shape, np.float32) for name, shape in LENET_SHAPES.items()}
  masks.update(changes)
  return {name: mask for name, mask in masks.items() if mask is not None}


def _weights(**changes):
  weights = {}
  for name, shape in LENET_SHAPES.items():
    weights[f'{name}/kernel'] = np.zeros(shape, np.float32)
    weights[f'{name}/bias'] = np.zeros(shape[1], np.float32)
  weights.update(changes)
  return weights


def _save(path_template, arrays):
  return lambda d: save_restore.save_arrays(path_template.format(**d), arrays)


def _in_data(name, change):
  """Setup: a fresh IDX dataset in {tmp}/data whose file `name` is then changed."""
  return lambda d: change(os.path.join(_idx(d, gz=name.endswith('.gz')), name))


def _in_cifar(name, change):
  return lambda d: change(os.path.join(_cifar(d), name))


def _truncated_masks(d):
  save_restore.save_arrays(f'{d["tmp"]}/masks.npz', _masks())
  _truncate(f'{d["tmp"]}/masks.npz')


def _record_default_settings(d):
  recorded_settings.record_settings(config_lib.ExperimentConfig(
      protocol='lottery', network='lenet300_100', dataset='mnist', output_dir=d['out'],
      training_iterations=20, batch_size=20, learning_rate=1.2e-3, eval_interval=10,
      validation_size=100))


def _one_run_experiment(directory):
  """A complete experiment directory (one run) for the report; returns the run directory."""
  trial, relative, *fields = test_analysis_report.RUNS[0]
  run_dir = os.path.join(directory, f'trial{trial}', relative)
  test_analysis_report.write_run(run_dir, trial, *fields)
  return run_dir


def _experiment_with(change):
  """Setup: a one-run experiment in {tmp}/experiment, then `change(run directory)`."""
  return lambda d: change(_one_run_experiment(os.path.join(d['tmp'], 'experiment')))


def _exported_run(masks=None, **summary):
  """Setup: a finished-looking LeNet run in {tmp}/exp/trial1/level1/lottery (summary changed)."""
  def setup(d):
    experiment = f'{d["tmp"]}/exp'
    _record_default_settings(dict(d, out=experiment))
    run = f'{experiment}/trial1/level1/lottery'
    save_restore.save_arrays(f'{run}/masks.npz', masks or _masks())
    save_restore.save_arrays(f'{run}/final.npz', _weights())
    save_restore.save_json(f'{run}/summary.json', dict(
        dict(status='complete', network='lenet300_100', dataset='mnist', trial=1,
             dataset_source=d['idx']), **summary))
  return setup


CHECKPOINT = '{out}/trial1/level0/.lottery.partial/checkpoint.npz'
SAVED_LEVEL = '{out}/trial1/level0/lottery'
CASES = [
    # Flags out of range or of the wrong type.
    _case('levels_negative', f'{MNIST}.lottery_experiment', ['--levels=-1'],
          '--levels=-1: expected an integer >= 0'),
    _case('levels_not_integer', f'{MNIST}.lottery_experiment', ['--levels=abc'],
          '--levels=abc: expected an integer'),
    _case('levels_fraction', f'{MNIST}.lottery_experiment', ['--levels=2.5'], '--levels=2.5'),
    _case('training_iterations_zero', f'{MNIST}.train', ['--training_iterations=0'],
          '--training_iterations=0'),
    _case('batch_size_zero', f'{MNIST}.train', ['--batch_size=0'], '--batch_size=0'),
    _case('batch_size_above_examples', f'{MNIST}.train', ['--batch_size=1000'],
          '--batch_size=1000: larger than the 300 training examples'),
    _case('learning_rate_negative', f'{MNIST}.train', ['--learning_rate=-1'],
          '--learning_rate=-1'),
    _case('learning_rate_infinite', f'{MNIST}.train', ['--learning_rate=inf'],
          '--learning_rate=inf'),
    _case('learning_rate_not_number', f'{MNIST}.train', ['--learning_rate=fast'],
          '--learning_rate=fast: expected a number'),
    _case('eval_interval_zero', f'{MNIST}.train', ['--eval_interval=0'], '--eval_interval=0'),
    _case('validation_size_zero', f'{MNIST}.train', ['--validation_size=0'],
          '--validation_size=0'),
    _case('validation_size_whole_split', f'{MNIST}.train', ['--validation_size=400'],
          '--validation_size=400'),
    _case('trial_negative', f'{MNIST}.train', ['--trial=-1'], '--trial=-1'),
    _case('seed_negative', f'{MNIST}.train', ['--seed=-1'], '--seed=-1'),
    _case('checkpoint_interval_negative', f'{MNIST}.train', ['--checkpoint_interval=-5'],
          '--checkpoint_interval=-5'),
    _case('boolean_with_a_value', f'{MNIST}.train', ['--jit_compile=maybe'],
          '--jit_compile=maybe: expected true or false'),
    _case('negated_boolean_with_a_value', f'{MNIST}.train', ['--nodropout=1'], '--nodropout=1'),
    _case('percent_remaining_zero', f'{MNIST}.one_shot', ['--percent_remaining=0'],
          '--percent_remaining=0'),
    _case('percent_remaining_above_100', f'{MNIST}.one_shot', ['--percent_remaining=150'],
          '--percent_remaining=150'),
    _case('percent_remaining_not_number', f'{MNIST}.one_shot', ['--percent_remaining=21.1,abc'],
          '--percent_remaining=21.1,abc'),
    _case('percent_remaining_empty', f'{MNIST}.one_shot', ['--percent_remaining='],
          '--percent_remaining=: expected at least one'),
    _case('level_negative', f'{MNIST}.reinitialize', ['--level=-1'], '--level=-1'),
    _case('level_not_integer', f'{MNIST}.random_prune', ['--level=x'], '--level=x'),
    _case('level_empty', f'{MNIST}.random_prune', ['--level='], '--level=: expected at least'),
    _case('pai_method_unknown', f'{MNIST}.prune_at_init', ['--method=snip,snap'],
          '--method=snip,snap: expected comma-separated values of'),
    _case('pai_ablation_unknown', f'{CONV}.prune_at_init', ['--ablation=flip'],
          '--ablation=flip: expected comma-separated values of'),
    _case('pai_ablation_on_random', f'{MNIST}.prune_at_init',
          ['--method=random', '--ablation=none,invert'], '--ablation=none,invert: expected none'),
    _case('pai_distribution_without_random', f'{MNIST}.prune_at_init',
          ['--sparsity_distribution=erk'], '--sparsity_distribution=erk: expected unset unless'),
    _case('pai_percent_above_100', f'{MNIST}.prune_at_init', ['--percent_remaining=101'],
          '--percent_remaining=101: expected values in (0, 100]'),
    _case('dst_method_unknown', f'{MNIST}.sparse_training', ['--method=rigl,snap'],
          '--method=rigl,snap: expected comma-separated values of'),
    _case('dst_distribution_unknown', f'{CONV}.sparse_training',
          ['--sparsity_distribution=gauss'], '--sparsity_distribution'),
    _case('dst_update_interval_zero', f'{MNIST}.sparse_training', ['--update_interval=0'],
          '--update_interval=0: expected an integer >= 1'),
    _case('dst_drop_fraction_one', f'{MNIST}.sparse_training', ['--drop_fraction=1'],
          '--drop_fraction=1: expected a fraction in (0, 1)'),
    _case('dst_update_end_zero', f'{MNIST}.sparse_training', ['--update_end=0'],
          '--update_end=0: expected a fraction of --training_iterations in (0, 1]'),
    _case('dst_update_end_above_1', f'{CONV}.sparse_training', ['--update_end=1.5'],
          '--update_end=1.5: expected a fraction'),
    _case('dst_percent_zero', f'{MNIST}.sparse_training', ['--percent_remaining=21.1,0'],
          '--percent_remaining=21.1,0: expected values in (0, 100]'),
    _case('sweep_dst_method_unknown', SWEEP, ['--sparse_training=rigl,snap'],
          '--sparse_training=rigl,snap: expected comma-separated values of'),
    _case('early_bird_epsilon_above_1', f'{MNIST}.lottery_experiment',
          ['--early_bird_epsilon=1.5'], '--early_bird_epsilon=1.5: expected a number in (0, 1)'),
    _case('early_bird_epsilon_not_number', f'{MNIST}.lottery_experiment',
          ['--early_bird_epsilon=tiny'], '--early_bird_epsilon=tiny: expected a number'),
    _case('sweep_pai_method_unknown', SWEEP, ['--prune_at_init=snip,snap'],
          '--prune_at_init=snip,snap: expected comma-separated values of'),
    _case('conv_percent_remaining_negative', f'{CONV}.one_shot', ['--percent_remaining=-5'],
          '--percent_remaining=-5: expected values in (0, 100]'),
    _case('conv_trial_not_integer', f'{CONV}.random_prune', ['--trial=abc'],
          '--trial=abc: expected an integer'),
    _case('report_tolerance_negative', REPORT, ['--tolerance=-1'], '--tolerance=-1'),
    _case('report_tolerance_not_number', REPORT, ['--tolerance=abc'], '--tolerance=abc'),
    # Unknown names.
    _case('unknown_dataset', f'{MNIST}.train', ['--dataset=imagenet'],
          '--dataset=imagenet: unknown dataset'),
    _case('unknown_network', f'{MNIST}.lottery_experiment', ['--network=resnet'],
          '--network=resnet: expected one of lenet300_100'),
    _case('unknown_conv_network', f'{CONV}.train', ['--network=conv8'], '--network=conv8'),
    _case('unknown_reinit_mode', f'{MNIST}.reinitialize', ['--reinit_mode=zeros'],
          '--reinit_mode=zeros'),
    _case('unknown_flag', f'{MNIST}.train', ['--learning_rat=0.1'],
          '--learning_rat=0.1: unknown flag; did you mean --learning_rate?'),
    _case('report_unknown_flag', REPORT, ['--tolerence=1'], '--tolerence=1: unknown flag'),
    _case('flag_without_value', f'{MNIST}.lottery_experiment', ['--levels'],
          '--levels: missing value'),
    _case('flagfile_missing', f'{MNIST}.train', ['--flagfile={tmp}/nowhere'],
          "--flagfile: cannot open it ([Errno 2] No such file or directory: '{tmp}/nowhere')"),
    _case('positional_argument', f'{MNIST}.train', ['0.1'], "unexpected arguments ['0.1']"),
    # Conflicting, missing or unusable flags and directories.
    _case('dropout_without_a_variant', f'{MNIST}.train', ['--dropout'],
          '--dropout: lenet300_100 has no dropout variant'),
    _case('changed_settings', f'{MNIST}.lottery_experiment', ['--learning_rate=0.5'],
          '--learning_rate=0.5 (was 0.0012)', _record_default_settings),
    _case('level_not_trained', f'{MNIST}.reinitialize', ['--level=4'],
          '--level=4: {out}/trial1/level4/lottery/masks.npz not found'),
    _case('conv_level_not_trained', f'{CONV}.reinitialize', ['--level=2'],
          '--level=2: {out}/trial1/level2/lottery/masks.npz not found'),
    _case('output_dir_missing', f'{MNIST}.train', ['--output_dir='], '--output_dir: required'),
    _case('output_dir_in_proc', f'{MNIST}.train', ['--output_dir=/proc/lottery_fuzz'],
          '--output_dir=/proc/lottery_fuzz: not writable'),
    _case('output_dir_in_sys', f'{MNIST}.train', ['--output_dir=/sys/lottery_fuzz'],
          '--output_dir=/sys/lottery_fuzz: not writable'),
    _case('output_dir_is_a_file', f'{MNIST}.train', ['--output_dir={tmp}/file'],
          '--output_dir={tmp}/file: exists and is not a directory',
          lambda d: _write(f'{d["tmp"]}/file', 'x')),
    _case('output_dir_under_a_file', f'{MNIST}.train', ['--output_dir={tmp}/file/out'],
          '--output_dir={tmp}/file/out: not writable', lambda d: _write(f'{d["tmp"]}/file', 'x')),
    _case('dataset_path_missing', f'{MNIST}.train', ['--dataset_path={tmp}/nowhere'],
          '--dataset_path={tmp}/nowhere: no such directory'),
    _case('dataset_path_is_a_file', f'{MNIST}.train', ['--dataset_path={tmp}/file'],
          '--dataset_path={tmp}/file: is a file, expected a directory',
          lambda d: _write(f'{d["tmp"]}/file', 'x')),
    _case('masks_not_found', f'{MNIST}.train', ['--masks={tmp}/nowhere.npz'],
          '--masks={tmp}/nowhere.npz: not found'),
    _case('masks_run_dir_without_masks', f'{MNIST}.train', ['--masks={tmp}'],
          '--masks={tmp}: not found'),
    _case('masks_experiment_without_masks', MASKS, [],
          '--experiment_dir={experiment}: no run has a masks.npz'),
    _case('masks_experiment_dir_nonexistent', MASKS, ['--experiment_dir={tmp}/nowhere'],
          '--experiment_dir={tmp}/nowhere: no such directory'),
    _case('report_experiment_dir_missing', REPORT, ['--experiment_dir='],
          '--experiment_dir: required'),
    _case('report_experiment_dir_nonexistent', REPORT, ['--experiment_dir={tmp}/nowhere'],
          '--experiment_dir={tmp}/nowhere: no such directory'),
    _case('report_experiment_dir_is_a_file', REPORT, ['--experiment_dir={tmp}/file'],
          '--experiment_dir={tmp}/file', lambda d: _write(f'{d["tmp"]}/file', 'x')),
    _case('report_experiment_dir_empty', REPORT, ['--experiment_dir={tmp}'],
          '--experiment_dir={tmp}: no trial*/ run directories'),
    _case('report_experiment_dir_foreign', REPORT, ['--experiment_dir={idx}'],
          '--experiment_dir={idx}: no trial*/ run directories'),
    _case('report_output_dir_in_proc', REPORT, ['--output_dir=/proc/lottery_fuzz'],
          '--output_dir=/proc/lottery_fuzz: cannot write'),
    _case('report_output_dir_is_a_file', REPORT, ['--output_dir={tmp}/file'],
          '--output_dir={tmp}/file: cannot write', lambda d: _write(f'{d["tmp"]}/file', 'x')),
    # Missing, truncated, garbled and foreign files: IDX.
    _case('idx_file_missing', f'{MNIST}.train', ['--dataset_path={tmp}/data'],
          't10k-labels-idx1-ubyte', _in_data('t10k-labels-idx1-ubyte', os.remove)),
    _case('idx_truncated', f'{MNIST}.train', ['--dataset_path={tmp}/data'],
          '{tmp}/data/t10k-images-idx3-ubyte: IDX file is',
          _in_data('t10k-images-idx3-ubyte', _truncate)),
    _case('idx_gzip_truncated', f'{MNIST}.train', ['--dataset_path={tmp}/data'],
          '{tmp}/data/train-images-idx3-ubyte.gz: cannot read',
          _in_data('train-images-idx3-ubyte.gz', _truncate)),
    _case('idx_garbled', f'{MNIST}.train', ['--dataset_path={tmp}/data'],
          '{tmp}/data/train-labels-idx1-ubyte: not an IDX file',
          _in_data('train-labels-idx1-ubyte', lambda path: _write(path, GARBAGE))),
    _case('idx_images_as_labels', f'{MNIST}.train', ['--dataset_path={tmp}/data'],
          '{tmp}/data/t10k-labels-idx1-ubyte: IDX file has 3 dimensions, expected 1',
          _in_data('t10k-labels-idx1-ubyte', lambda path: shutil.copy(
              path.replace('labels-idx1', 'images-idx3'), path))),
    _case('idx_counts_differ', f'{MNIST}.train', ['--dataset_path={tmp}/data'],
          '--dataset_path={tmp}/data: train has 400 images but 300 labels',
          _in_data('train-labels-idx1-ubyte',
                   lambda path: idx.write_idx(path, np.zeros(300, np.uint8)))),
    # CIFAR-10 batches.
    _case('cifar_batch_missing', f'{CONV}.train', ['--dataset_path={tmp}/data'],
          '{tmp}/data/data_batch_3', _in_cifar('data_batch_3', os.remove)),
    _case('cifar_batch_truncated', f'{CONV}.train', ['--dataset_path={tmp}/data'],
          '{tmp}/data/data_batch_1: not a CIFAR-10 python batch file',
          _in_cifar('data_batch_1', _truncate)),
    _case('cifar_batch_foreign_pickle', f'{CONV}.lottery_experiment',
          ['--dataset_path={tmp}/data'], '{tmp}/data/test_batch: not a CIFAR-10 python batch',
          _in_cifar('test_batch', lambda path: _pickle(path, [1, 2, 3]))),
    _case('cifar_batch_wrong_shape', f'{CONV}.train', ['--dataset_path={tmp}/data'],
          '{tmp}/data/data_batch_2: expected uint8 data of shape (N, 3072)',
          _in_cifar('data_batch_2', lambda path: _pickle(
              path, {b'data': np.zeros((10, 100), np.uint8), b'labels': [0] * 10}))),
    # Masks and presets (--masks, --presets, the masks a control trains).
    _case('masks_truncated', f'{MNIST}.train', ['--masks={tmp}/masks.npz'],
          '{tmp}/masks.npz: not a readable .npz', _truncated_masks),
    _case('masks_garbled', f'{MNIST}.train', ['--masks={tmp}/masks.npz'],
          '{tmp}/masks.npz: not a readable .npz',
          lambda d: _write(f'{d["tmp"]}/masks.npz', GARBAGE)),
    _case('masks_foreign_layers', f'{MNIST}.train', ['--masks={tmp}/masks.npz'],
          "{tmp}/masks.npz: layer names do not match the network: missing ['output'], "
          "unexpected ['conv1']",
          _save('{tmp}/masks.npz', _masks(output=None, conv1=np.ones((3, 3)))), network=True),
    _case('masks_wrong_shape', f'{MNIST}.train', ['--masks={tmp}/masks.npz'],
          '{tmp}/masks.npz: hidden2 has shape (300, 99)',
          _save('{tmp}/masks.npz', _masks(hidden2=np.ones((300, 99)))), network=True),
    _case('masks_not_binary', f'{MNIST}.train', ['--masks={tmp}/masks.npz'],
          '{tmp}/masks.npz: mask output holds values other than 0 and 1',
          _save('{tmp}/masks.npz', _masks(output=np.full((100, 10), 0.5))), network=True),
    _case('presets_garbled', f'{MNIST}.train', ['--presets={tmp}/initial.npz'],
          '{tmp}/initial.npz: not a readable .npz',
          lambda d: _write(f'{d["tmp"]}/initial.npz', 'weights')),
    _case('presets_wrong_shape', f'{MNIST}.train', ['--presets={tmp}/initial.npz'],
          '{tmp}/initial.npz: output/bias has shape (11,)',
          _save('{tmp}/initial.npz', _weights(**{'output/bias': np.zeros(11)})), network=True),
    _case('control_masks_garbled', f'{MNIST}.random_prune', ['--level=0'],
          f'{SAVED_LEVEL}/masks.npz: not a readable .npz',
          lambda d: _write(f'{SAVED_LEVEL}/masks.npz'.format(**d), GARBAGE)),
    # Checkpoints, summaries and experiment.json in an output directory being resumed.
    # (A garbled checkpoint is set aside and its run restarts: test_reliability.)
    _case('checkpoint_foreign', f'{MNIST}.lottery_experiment', [],
          f'{CHECKPOINT}: not a training checkpoint',
          _save(CHECKPOINT, {'weights': np.zeros(3)}), network=True),
    _case('checkpoint_of_another_network', f'{MNIST}.lottery_experiment', [],
          f'{CHECKPOINT}: does not match this network',
          _save(CHECKPOINT, {'iteration': 10, 'wall_seconds': 1.0, 'rows': np.zeros((1, 7)),
                             'variables/model/0': np.zeros(3)}), network=True),
    _case('summary_truncated', f'{MNIST}.lottery_experiment', [],
          f'{SAVED_LEVEL}/summary.json: not a readable JSON file',
          lambda d: _write(f'{SAVED_LEVEL}/summary.json'.format(**d), '{"status": "compl'),
          network=True),
    _case('summary_foreign', f'{MNIST}.lottery_experiment', [],
          f'{SAVED_LEVEL}/summary.json: expected a JSON object',
          lambda d: _write(f'{SAVED_LEVEL}/summary.json'.format(**d), '[1, 2]'), network=True),
    _case('settings_garbled', f'{MNIST}.lottery_experiment', [],
          '{out}/experiment.json: not a readable JSON file',
          lambda d: _write(f'{d["out"]}/experiment.json', '{"network": ')),
    _case('settings_foreign', f'{MNIST}.lottery_experiment', [],
          '{out}/experiment.json: expected a JSON object',
          lambda d: _write(f'{d["out"]}/experiment.json', '"lenet300_100"')),
    # What the report reads: summaries and metrics of every run.
    _case('report_summary_garbled', REPORT, ['--experiment_dir={tmp}/experiment'],
          '--experiment_dir={tmp}/experiment: no complete runs yet (1 in progress or unreadable)',
          _experiment_with(lambda run: _write(f'{run}/summary.json', GARBAGE))),
    _case('report_summary_foreign', REPORT, ['--experiment_dir={tmp}/experiment'],
          '--experiment_dir={tmp}/experiment: no complete runs yet',
          _experiment_with(lambda run: _write(f'{run}/summary.json', '[1, 2]'))),
    _case('report_metrics_truncated', REPORT, ['--experiment_dir={tmp}/experiment'],
          '--experiment_dir={tmp}/experiment: no complete runs yet',
          _experiment_with(lambda run: _write(f'{run}/metrics.csv', 'iteration,train_lo'))),
    # Deep networks, their training settings and rewinding.
    _case('unknown_optimizer', f'{CONV}.train', ['--optimizer=rmsprop'], '--optimizer=rmsprop'),
    _case('momentum_out_of_range', f'{CONV}.train', ['--network=resnet20', '--momentum=1'],
          '--momentum=1: expected a number in [0, 1)'),
    _case('lr_milestones_decreasing', f'{MNIST}.train', ['--lr_milestones=100,50'],
          '--lr_milestones=100,50: expected increasing iterations >= 1'),
    _case('report_iterations_past_the_end', f'{CONV}.train', ['--report_iterations=5'],
          '--report_iterations=5: expected iterations in [1, --training_iterations=2]'),
    _case('dropout_and_warmup', f'{CONV}.train', ['--dropout', '--warmup'],
          '--dropout and --warmup: choose one variant'),
    _case('unknown_pruning', f'{MNIST}.lottery_experiment', ['--pruning=random'],
          '--pruning=random'),
    _case('rewind_past_the_end', f'{CONV}.lottery_experiment',
          ['--network=resnet20', '--rewind_iteration=5'],
          '--rewind_iteration=5: expected an iteration in [0, --training_iterations=2)'),
    _case('global_one_shot_unreachable', f'{CONV}.one_shot',
          ['--network=resnet20', '--percent_remaining=0.5'],
          '--percent_remaining=0.5: unreachable', network=True),
    # Instability analysis.
    _case('instability_level_not_trained', f'{MNIST}.instability', ['--level=0,3'],
          '--level=3: {out}/trial1/level3/lottery/masks.npz not found'),
    _case('instability_spawn_past_the_end', f'{CONV}.instability', ['--spawn_iterations=0,2'],
          '--spawn_iterations=0,2: expected iterations in [0, --training_iterations=2)'),
    _case('instability_one_point', f'{MNIST}.instability', ['--interpolation_points=1'],
          '--interpolation_points=1: expected an integer >= 2'),
    _case('instability_unknown_control', f'{MNIST}.instability', ['--control=reinit'],
          '--control=reinit'),
    _case('instability_masks_garbled', f'{MNIST}.instability', ['--masks={tmp}/masks.npz'],
          '{tmp}/masks.npz: not a readable .npz',
          lambda d: _write(f'{d["tmp"]}/masks.npz', GARBAGE)),
    # Exporting a run, and the tfmot baseline.
    _case('export_run_dir_missing', EXPORT, ['--run_dir={tmp}/nowhere'],
          '--run_dir={tmp}/nowhere: no such directory'),
    _case('export_run_in_progress', EXPORT, ['--run_dir={tmp}/exp/trial1/level0/.lottery.partial'],
          '--run_dir={tmp}/exp/trial1/level0/.lottery.partial: incomplete',
          lambda d: os.makedirs(f'{d["tmp"]}/exp/trial1/level0/.lottery.partial')),
    _case('export_diverged', EXPORT, [], '--run_dir={tmp}/exp/trial1/level1/lottery: the run '
          'diverged (loss nan)', _exported_run(status='diverged', error='loss nan')),
    _case('export_foreign_network', EXPORT, [], "names network 'alexnet'",
          _exported_run(network='alexnet')),
    _case('export_deep_network', EXPORT, [], 'resnet20 cannot be exported yet',
          _exported_run(network='resnet20')),
    _case('export_no_final_weights', EXPORT, [], 'incomplete (no final.npz)',
          lambda d: (_exported_run()(d), os.remove(f'{d["tmp"]}/exp/trial1/level1/lottery/'
                                                   'final.npz'))),
    _case('export_without_settings', EXPORT, [], 'no experiment.json in the directories above',
          lambda d: (_exported_run()(d), os.remove(f'{d["tmp"]}/exp/experiment.json'))),
    _case('export_output_dir_not_empty', EXPORT, ['--output_dir={tmp}/exp'],
          '--output_dir={tmp}/exp: not empty and not an earlier export', _exported_run()),
    _case('export_latency_runs_zero', EXPORT, ['--latency_runs=0'], '--latency_runs=0'),
    _case('export_masks_wrong_shape', EXPORT, [],
          '{tmp}/exp/trial1/level1/lottery/masks.npz: hidden2 has shape (300, 99)',
          _exported_run(masks=_masks(hidden2=np.ones((300, 99)))), network=True),
    _case('tfmot_percent_remaining_zero', f'{MNIST}.tfmot_pruning', ['--percent_remaining=0'],
          '--percent_remaining=0'),
    _case('tfmot_eval_interval_not_a_divisor', f'{MNIST}.tfmot_pruning', ['--eval_interval=15'],
          '--eval_interval=15: expected a divisor of --training_iterations=20'),
    _case('tfmot_global_pruning', f'{MNIST}.tfmot_pruning', ['--pruning=global'],
          '--pruning=global: expected layerwise'),
    # Several trials, several controls per ticket, the sweep.
    _case('trials_not_numbers', f'{MNIST}.lottery_experiment', ['--trials=1-x'],
          '--trials=1-x: expected trial numbers and ranges'),
    _case('trials_repeated', f'{MNIST}.train', ['--trials=1-3,2'],
          '--trials=1-3,2: a trial is listed twice'),
    _case('trials_empty_range', f'{MNIST}.train', ['--trials=3-1'], '--trials=3-1: empty range'),
    _case('trial_and_trials', f'{MNIST}.train', ['--trial=4', '--trials=1-2'],
          '--trial=4 and --trials=1-2: give one of them'),
    _case('trials_missing_control_masks', f'{MNIST}.random_prune', ['--trials=1-2'],
          '--level=3: {out}/trial1/level3/lottery/masks.npz not found'),
    _case('control_trials_zero', f'{MNIST}.reinitialize', ['--control_trials=0'],
          '--control_trials=0: expected an integer >= 1'),
    _case('sweep_workers_zero', SWEEP, ['--workers=0'], '--workers=0: expected an integer >= 1'),
    _case('sweep_one_shot_zero', SWEEP, ['--one_shot=50,0'],
          '--one_shot=50,0: expected percentages in (0, 100]'),
    _case('sweep_one_shot_not_numbers', SWEEP, ['--one_shot=half'], '--one_shot=half'),
    _case('sweep_control_level_beyond_levels', SWEEP, ['--control_levels=3'],
          '--control_levels=3: expected levels in 1..--levels=2'),
    _case('sweep_reinit_trials_negative', SWEEP, ['--reinit_trials=-1'],
          '--reinit_trials=-1: expected an integer >= 0'),
    _case('sweep_trials_not_numbers', SWEEP, ['--trials=a'], '--trials=a'),
    _case('sweep_unknown_network', SWEEP, ['--network=lenet5'], '--network=lenet5'),
    _case('sweep_missing_dataset', SWEEP, ['--dataset_path={tmp}/nothing'], '{tmp}/nothing'),
    _case('sweep_ray_with_workers', SWEEP, ['--engine=ray', '--workers=2'],
          '--workers=2: not used by --engine=ray'),
    _case('sweep_workers_per_gpu_zero', SWEEP, ['--workers_per_gpu=0'],
          '--workers_per_gpu=0: expected an integer >= 1'),
    _case('sweep_workers_per_gpu_without_gpus', SWEEP, ['--workers_per_gpu=2'],
          '--workers_per_gpu=2: expected a machine with GPUs', env={'CUDA_VISIBLE_DEVICES': ''}),
    _case('sweep_ray_with_workers_per_gpu', SWEEP, ['--engine=ray', '--workers_per_gpu=2'],
          '--workers_per_gpu=2: not used by --engine=ray', env={'CUDA_VISIBLE_DEVICES': '0'}),
    _case('sweep_local_with_gpus_per_run', SWEEP, ['--gpus_per_run=0.5'],
          '--gpus_per_run=0.5: not used by --engine=local'),
    _case('sweep_ray_cpus_per_run_zero', SWEEP, ['--engine=ray', '--cpus_per_run=0'],
          '--cpus_per_run=0: expected a number > 0'),
    _case('sweep_ray_address_unreachable', SWEEP, ['--engine=ray', '--ray_address=127.0.0.1:1'],
          '--ray_address=127.0.0.1:1: no Ray cluster answers there'),
    _case('sweep_ray_address_malformed', SWEEP, ['--engine=ray', '--ray_address=head'],
          '--ray_address=head: expected auto or host:port'),
    _case('sweep_other_settings', SWEEP, ['--learning_rate=0.5'],
          '--learning_rate=0.5 (was 0.0012)', _record_default_settings),
    _case('tfmot_deep_network', f'{CONV}.tfmot_pruning', ['--network=resnet20'],
          '--network=resnet20: tfmot_pruning trains LeNet-300-100 and Conv-2/4/6 only'),
    # Learned masks (edge-popup, biprop), binary weights, the cosine schedule.
    _case('supermask_percent_remaining_zero', f'{MNIST}.supermask', ['--percent_remaining=0'],
          '--percent_remaining=0: expected values in (0, 100]'),
    _case('supermask_percent_remaining_text', f'{MNIST}.supermask',
          ['--percent_remaining=50,half'], '--percent_remaining=50,half: expected comma-separated'),
    _case('supermask_percent_remaining_empty', f'{CONV}.supermask', ['--percent_remaining='],
          '--percent_remaining=: expected at least one value'),
    _case('supermask_unknown_weight_init', f'{MNIST}.supermask', ['--weight_init=xavier'],
          '--weight_init=xavier'),
    _case('supermask_deep_network', f'{CONV}.supermask', ['--network=resnet20'],
          '--network=resnet20: supermask trains LeNet-300-100 and Conv-2/4/6 only'),
    _case('supermask_dropout', f'{MNIST}.supermask', ['--dropout'],
          '--dropout: supermask has no dropout variant'),
    _case('supermask_other_lottery_seed', f'{MNIST}.supermask', ['--seed=0'],
          '--seed=0 (was 3)', lambda d: recorded_settings.record_settings(
              config_lib.ExperimentConfig(
                  protocol='lottery', network='lenet300_100', dataset='mnist',
                  output_dir=d['out'], training_iterations=20, learning_rate=1.2e-3,
                  validation_size=100, seed=3))),
    _case('supermask_rewind', f'{MNIST}.supermask', ['--rewind_iteration=5'],
          '--rewind_iteration=5: expected 0 with supermask'),
    _case('unknown_lr_schedule', f'{MNIST}.train', ['--lr_schedule=linear'],
          '--lr_schedule=linear'),
    _case('binarize_not_boolean', f'{MNIST}.one_shot', ['--binarize=maybe'], '--binarize'),
    _case('binarize_on_an_unbinarized_experiment', f'{MNIST}.lottery_experiment',
          ['--binarize'], '--binarize=True (was False)', _record_default_settings),
    # Data-parallel training (--distribute).
    _case('distribute_unknown', f'{MNIST}.train', ['--distribute=horovod'],
          '--distribute=horovod'),
    _case('cpu_devices_without_mirrored', f'{MNIST}.train', ['--cpu_devices=2'],
          '--cpu_devices=2: expected 0 unless --distribute=mirrored'),
    _case('cpu_devices_negative', f'{MNIST}.train', ['--distribute=mirrored', '--cpu_devices=-1'],
          '--cpu_devices=-1: expected an integer >= 0'),
    _case('batch_size_not_divisible_by_cpu_devices', f'{MNIST}.train',
          ['--distribute=mirrored', '--cpu_devices=3'],
          '--batch_size=20: expected a multiple of --cpu_devices=3'),
    _case('batch_size_not_divisible_by_devices', f'{MNIST}.lottery_experiment',
          ['--distribute=mirrored', '--distribute_devices=/cpu:0,/cpu:1,/cpu:2'],
          '--batch_size=20: expected a multiple of the 3 --distribute_devices'),
    _case('distribute_devices_not_a_device', f'{MNIST}.train',
          ['--distribute=mirrored', '--distribute_devices=/cpu:0,tpu7'],
          "--distribute_devices=/cpu:0,tpu7: 'tpu7' is not a device name"),
    _case('distribute_devices_without_mirrored', f'{MNIST}.train',
          ['--distribute_devices=/cpu:0'], '--distribute_devices=/cpu:0: expected none unless'),
    _case('distribute_devices_absent', f'{MNIST}.train',
          ['--distribute=mirrored', '--distribute_devices=/gpu:0,/gpu:1'],
          '--distribute_devices=/gpu:0,/gpu:1: no device /gpu:0 here', network=True),
    _case('multi_worker_without_tf_config', f'{MNIST}.train', ['--distribute=multi_worker'],
          '--distribute=multi_worker: TF_CONFIG is not set', env={'TF_CONFIG': ''}),
    _case('multi_worker_tf_config_not_json', f'{MNIST}.one_shot', ['--distribute=multi_worker'],
          'TF_CONFIG is not JSON', env={'TF_CONFIG': '{"cluster": '}),
    _case('multi_worker_tf_config_bad_task', f'{MNIST}.lottery_experiment',
          ['--distribute=multi_worker'], 'TF_CONFIG: "task" must name a job',
          env={'TF_CONFIG': '{"cluster": {"worker": ["localhost:1"]}, '
                            '"task": {"type": "worker", "index": 3}}'}),
    _case('distribute_with_dropout', f'{CONV}.train', ['--distribute=mirrored', '--dropout'],
          '--dropout=True: expected false with --distribute=mirrored'),
    _case('distribute_with_mixed_precision', f'{MNIST}.train',
          ['--distribute=mirrored', '--mixed_precision'],
          '--precision=mixed_float16: expected float32 with --distribute=mirrored'),
    # --deterministic: an op without a deterministic kernel (XLA's MaxPool gradient).
    _case('deterministic_refused_op', f'{CONV}.train', ['--deterministic', '--jit_compile'],
          '--deterministic: TensorFlow has no deterministic kernel for a step of this network '
          '(op MaxPoolGrad)', network=True),
    _case('deterministic_not_boolean', f'{MNIST}.train', ['--deterministic=maybe'],
          '--deterministic'),
    _case('precision_unknown', f'{MNIST}.train', ['--precision=bfloat16'], '--precision'),
    _case('precision_and_its_alias_disagree', f'{MNIST}.train',
          ['--mixed_precision', '--precision=mixed_bfloat16'],
          '--mixed_precision: an alias of --precision=mixed_float16; expected it without '
          '--precision=mixed_bfloat16'),
    _case('tfmot_pruning_in_bfloat16', f'{MNIST}.tfmot_pruning', ['--precision=mixed_bfloat16'],
          '--precision=mixed_bfloat16: expected float32 with tfmot_pruning'),
    _case('distribute_tfmot_pruning', f'{MNIST}.tfmot_pruning', ['--distribute=mirrored'],
          '--distribute=mirrored: expected none with tfmot_pruning'),
    _case('distribute_sweep', SWEEP, ['--distribute=mirrored'],
          '--distribute=mirrored: the sweep trains many runs in parallel workers'),
]


def _snapshot(directory):
  """{relative path: file bytes, or None for a directory} of everything under `directory`."""
  tree = {}
  for root, dirs, files in os.walk(directory):
    for name in dirs:
      tree[os.path.relpath(os.path.join(root, name), directory)] = None
    for name in files:
      with open(os.path.join(root, name), 'rb') as f:
        tree[os.path.relpath(os.path.join(root, name), directory)] = f.read()
  return tree


def _imported_tensorflow(stderr):
  return re.search(r'\|\s+tensorflow\s*$', stderr, re.MULTILINE) is not None


@pytest.fixture(scope='module')
def outcomes(idx_dataset, cifar_dataset, tmp_path_factory):
  """{case name: (CompletedProcess, snapshot before, snapshot after, the case's paths)}."""
  experiment = str(tmp_path_factory.mktemp('experiment'))
  _one_run_experiment(experiment)
  prepared = {}
  for case in CASES:
    tmp = str(tmp_path_factory.mktemp(case.name))
    d = dict(tmp=tmp, out=os.path.join(tmp, 'out'), idx=idx_dataset, cifar=cifar_dataset,
             experiment=experiment)
    if case.setup:
      case.setup(d)
    defaults = DEFAULT_FLAGS.get(case.module) or DEFAULT_FLAGS[case.module.rpartition('.')[0]]
    flags = [flag.format(**d) for flag in defaults + case.flags]
    prepared[case.name] = (flags, d, _snapshot(tmp))

  def run(case):
    flags, _, _ = prepared[case.name]
    env = dict({} if case.network else {'PYTHONPROFILEIMPORTTIME': '1'}, **(case.env or {}))
    return conftest.run_module(case.module, *flags, timeout=300, env=env)

  ordered = sorted(CASES, key=lambda case: not case.network)  # the slow ones first
  with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    processes = dict(zip([case.name for case in ordered], pool.map(run, ordered)))
  return {name: (processes[name], before, _snapshot(d['tmp']), d)
          for name, (_, d, before) in prepared.items()}


@pytest.mark.parametrize('case', CASES, ids=[case.name for case in CASES])
def test_bad_input_is_one_error_line(outcomes, case):
  process, before, after, d = outcomes[case.name]
  output = process.stdout + process.stderr
  assert process.returncode == 2, output
  assert 'Traceback' not in output
  lines = [line for line in process.stderr.splitlines() if line.startswith('error:')]
  assert len(lines) == 1, output
  assert case.names.format(**d) in lines[0]
  assert after == before  # nothing written, changed or removed
  if not case.network:
    assert not _imported_tensorflow(process.stderr), lines[0]


def test_the_table_covers_every_entry_point():
  modules = {case.module for case in CASES}
  for package in (MNIST, CONV):
    names = os.listdir(os.path.join(conftest.REPO_ROOT, *package.split('.')))
    runners = {f'{package}.{name[:-3]}' for name in names
               if name.endswith('.py') and not name.startswith('_')}
    assert runners and runners <= modules, runners - modules
  assert {REPORT, EXPORT, SWEEP} <= modules and len(CASES) >= 30
