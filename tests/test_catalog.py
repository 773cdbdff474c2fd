"""lottery_ticket.protocols.catalog: every entry complete, its run names read back by the
analysis loader, and the sweep's plan naming exactly the runs the protocols write."""

import dataclasses
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys
import types

from absl import flags
import pytest

from lottery_ticket import config as config_lib
from lottery_ticket import flag_definitions
from lottery_ticket import sweep
from lottery_ticket.analysis import load
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import kinds
from lottery_ticket.protocols import spec
from tests import conftest

HOOKS = ('entry_point', 'model_transform', 'extra_splits', 'run_outputs')


def _config(tmp_path, protocol='lottery', **changes):
  return config_lib.ExperimentConfig(
      protocol=protocol, network='lenet300_100', dataset='mnist', output_dir=str(tmp_path),
      training_iterations=20, batch_size=20, learning_rate=1e-3, **changes)


def _defined_in_module(name):
  """Whether 'module:function' names a module on the path that defines the function (read as
  text: importing a protocol imports TensorFlow)."""
  module, _, function = name.partition(':')
  found = importlib.util.find_spec(module)
  with open(found.origin) as f:
    return re.search(rf'^def {function}\(', f.read(), re.MULTILINE) is not None


@pytest.mark.parametrize('name', list(catalog.REGISTRY))
def test_every_entry_is_complete(name):
  protocol = catalog.get(name)
  assert protocol.name == name and protocol.flags
  for hook in HOOKS:
    if getattr(protocol, hook):
      assert _defined_in_module(getattr(protocol, hook)), (name, hook)
  names = [flag.name for flag in protocol.flags]
  assert len(set(names)) == len(names)
  for flag in protocol.flags:
    assert flag.kind in ('integer', 'float', 'enum', 'list', 'boolean', 'string') and flag.help
    assert bool(flag.choices) == (flag.kind == 'enum')
  if protocol.planner:
    assert protocol.run_dirs is None and name not in catalog.PROTOCOL_NAMES
    return
  assert protocol.run_dirs and (protocol.run_groups or protocol.run_names or
                                protocol.nested_run_groups or name == 'instability')  # instability: analysis.instability
  fields = {field.name for field in dataclasses.fields(config_lib.ExperimentConfig)}
  assert {s.flag for s in protocol.settings} == set(names)  # every own flag reaches the config
  assert {s.field for s in protocol.settings} <= fields
  assert set(protocol.required) <= fields


def test_every_default_run_kind_is_known_to_the_report():
  recording = [p for p in catalog.REGISTRY.values() if p.run_dirs and p.name != 'instability']
  for protocol in recording:  # instability records curves, not runs.csv rows
    kind = protocol.kind_of({}.get)
    assert kind in kinds.KINDS or kinds.is_pai(kind) or kinds.is_sparse(kind), protocol.name
  assert set(kinds.CONTROL_KINDS) == set(kinds.with_role('control'))
  assert all(kind.role in kinds.ROLES for kind in kinds.KINDS.values())


def test_the_catalog_imports_no_tensorflow():
  code = ('import sys; from lottery_ticket.protocols import catalog; '
          'assert "tensorflow" not in sys.modules, "TensorFlow imported"')
  subprocess.run([sys.executable, '-c', code], check=True, cwd=conftest.REPO_ROOT)


def test_every_runner_runs_a_catalog_protocol():
  named = set()
  for path in glob.glob(os.path.join(conftest.REPO_ROOT, '*', 'runners', '*.py')):
    with open(path) as f:
      named.update(re.findall(r"runner\.run\('(\w+)'", f.read()))
  assert named == set(catalog.PROTOCOL_NAMES)


@pytest.mark.parametrize('name', list(catalog.REGISTRY))
def test_runner_defines_exactly_the_catalog_flags(name, monkeypatch):
  values = flags.FlagValues()
  scratch = types.SimpleNamespace(**{
      f'DEFINE_{kind}': (lambda define: lambda *args, **kwargs: define(
          *args, flag_values=values, **kwargs))(
          getattr(flags, f'DEFINE_{kind}'))
      for kind in ('integer', 'float', 'enum', 'list', 'boolean', 'string')})
  monkeypatch.setattr(flag_definitions, 'flags', scratch)
  flag_definitions.define_protocol(name)
  defined = {flag_name: values[flag_name] for flag_name in values}
  assert list(defined) == [flag.name for flag in catalog.get(name).flags]
  for flag in catalog.get(name).flags:
    assert defined[flag.name].default == flag.default
    assert defined[flag.name].help.endswith(flag.help)  # an enum's help starts <a|b|...>:
    if flag.choices:
      assert defined[flag.name].parser.enum_values == list(flag.choices)


# (protocol, config changes, [(run directory below trial1/, label, analysis kind)])
CASES = [
    ('lottery', dict(levels=2), [('level0/lottery', 'trial1 level0 lottery', 'lottery'),
                                 ('level1/lottery', 'trial1 level1 lottery', 'lottery'),
                                 ('level2/lottery', 'trial1 level2 lottery', 'lottery')]),
    ('lottery', dict(levels=1, mask_criterion='movement'), [
        ('level0/lottery', 'trial1 level0 lottery', 'lottery_movement'),
        ('level1/lottery_movement', 'trial1 level1 lottery_movement', 'lottery_movement')]),
    ('one_shot', dict(percent_remaining=(51.3, 20.0)), [
        ('level0/lottery', 'trial1 level0 lottery', 'lottery'),
        ('one_shot/remaining51.3', 'trial1 one-shot 51.3%', 'one_shot'),
        ('one_shot/remaining20', 'trial1 one-shot 20%', 'one_shot')]),
    ('one_shot', dict(percent_remaining=(7.0,), mask_criterion='random'), [
        ('level0/lottery', 'trial1 level0 lottery', 'lottery_random'),
        ('one_shot_random/remaining7', 'trial1 one-shot_random 7%', 'one_shot_random')]),
    ('reinit', dict(ticket_levels=(1, 2)), [('level1/reinit', 'trial1 level1 reinit', 'reinit'),
                                             ('level2/reinit', 'trial1 level2 reinit', 'reinit')]),
    ('reinit', dict(ticket_levels=(2,), control_trials=(1, 2), reinit_mode='reshuffle'), [
        ('level2/reinit_reshuffle', 'trial1 level2 reinit_reshuffle', 'reinit_reshuffle'),
        ('level2/reinit_reshuffle_control2', 'trial1 level2 reinit_reshuffle_control2',
         'reinit_reshuffle')]),
    ('random_prune', dict(ticket_levels=(3,), control_trials=(1, 2)), [
        ('level3/random_prune', 'trial1 level3 random_prune', 'random_prune'),
        ('level3/random_prune_control2', 'trial1 level3 random_prune_control2',
         'random_prune')]),
    ('train', {}, [('train', 'trial1 train', 'train')]),
    ('tfmot_pruning', dict(percent_remaining=(51.3,)), [
        ('tfmot_pruning/remaining51.3', 'trial1 tfmot 51.3%', 'tfmot_pruning')]),
    ('supermask', dict(percent_remaining=(50.0, 10.0)), [
        ('edge_popup/remaining50', 'trial1 edge_popup 50%', 'edge_popup'),
        ('edge_popup/remaining10', 'trial1 edge_popup 10%', 'edge_popup')]),
    ('supermask', dict(percent_remaining=(30.0,), binarize=True), [
        ('biprop/remaining30', 'trial1 biprop 30%', 'biprop')]),
]


def _record(run_dir, summary):
  """A minimal recorded run, as recording.write_run leaves it: metrics.csv and summary.json."""
  os.makedirs(run_dir)
  with open(os.path.join(run_dir, 'metrics.csv'), 'w') as f:
    f.write(','.join(('iteration',) + load.METRIC_COLUMNS) + '\n' + ','.join(['1'] * 7) + '\n')
  with open(os.path.join(run_dir, 'summary.json'), 'w') as f:
    json.dump(summary, f)


def _summary(config, level):
  """The identifying keys of the summary.json a run of `config` records (run_details)."""
  summary = dict(experiment=config.protocol, trial=config.trial, percent_remaining=50.0,
                 mask_criterion=config.mask_criterion, binarize=config.binarize, level=level)
  if config.protocol == 'reinit':
    summary['reinit_mode'] = config.reinit_mode
  if config.protocol == 'supermask':
    summary['kind'] = 'biprop' if config.binarize else 'edge_popup'
  return summary


@pytest.mark.parametrize('name,changes,expected', CASES)
def test_run_names_round_trip_through_the_loader(name, changes, expected, tmp_path):
  config = _config(tmp_path, name, **changes)
  runs = catalog.get(name).run_dirs(config)
  assert [(os.path.relpath(run.run_dir, os.path.join(tmp_path, 'trial1')), run.label)
          for run in runs] == [(run_dir, label) for run_dir, label, _ in expected]
  for run, (relative, _, _) in zip(runs, expected):
    level = re.match(r'level(\d+)/', relative)
    dense = relative == 'level0/lottery'  # the dense run: recorded by the lottery protocol
    recorder = dataclasses.replace(config, protocol='lottery') if dense else config
    _record(run.run_dir, _summary(recorder, level and int(level.group(1))))
  table = load.load_experiment(str(tmp_path))
  assert dict(zip(table['run'], table['kind'])) == {
      os.path.join('trial1', relative): kind for relative, _, kind in expected}


def test_instability_names_a_directory_per_mask_and_spawn_iteration(tmp_path):
  config = _config(tmp_path, 'instability', ticket_levels=(0, 2), spawn_iterations=(0, 20),
                   control='random_prune')
  assert [os.path.relpath(run.run_dir, str(tmp_path))
          for run in catalog.get('instability').run_dirs(config)] == [
              'trial1/instability/level0_random_prune/spawn0',
              'trial1/instability/level0_random_prune/spawn20',
              'trial1/instability/level2_random_prune/spawn0',
              'trial1/instability/level2_random_prune/spawn20']


@pytest.mark.parametrize('criterion', ['magnitude', 'movement'])
def test_plan_names_exactly_the_runs_the_protocols_write(criterion, tmp_path):
  config = _config(tmp_path, levels=2, mask_criterion=criterion, reinit_mode='reshuffle')
  trials, one_shot, control_levels = (1, 2), (51.3, 20.0), (1, 2)
  tasks = sweep.plan(config, trials, one_shot, reinit_trials=2, random_prune_trials=1,
                     control_levels=control_levels, prune_at_init=('snip', 'random'),
                     prune_at_init_remaining=(7.0,), sparse_training=('rigl', 'static'),
                     sparse_training_remaining=(7.0, 3.6))
  written = {}
  for trial in trials:
    commands = [
        ('lottery', {}), ('one_shot', dict(percent_remaining=one_shot)),
        ('reinit', dict(ticket_levels=control_levels, control_trials=(1, 2))),
        ('random_prune', dict(ticket_levels=control_levels, control_trials=(1,))),
        ('prune_at_init', dict(pai_methods=('snip',), percent_remaining=(7.0,))),
        ('prune_at_init', dict(pai_methods=('random',), percent_remaining=(7.0,),
                               sparsity_distribution='erk')),
        ('sparse_training', dict(dst_methods=('rigl', 'static'), percent_remaining=(7.0, 3.6),
                                 sparsity_distribution='erk'))]
    for name, changes in commands:
      command = dataclasses.replace(config, protocol=name, trial=trial, **changes)
      written.update((run.run_dir, run.label) for run in catalog.get(name).run_dirs(command))
  assert {task.run_dir: task.label for task in tasks} == written
  assert len(tasks) == len(written)
  for task in tasks:
    assert all(need in written for need in task.needs)


def test_default_dataset_is_the_network_package_s():
  assert sweep.default_dataset('lenet300_100') == 'mnist'
  assert {sweep.default_dataset(name) for name in sweep.all_networks()} == {'mnist', 'cifar10'}
  assert sweep.default_dataset('conv2') == 'cifar10'


def test_unknown_protocol_requires_nothing():
  assert catalog.lookup('no_such_protocol') is catalog.NO_PROTOCOL
  assert spec.resolve('lottery_ticket.protocols.naming:criterion_kind')(
      'lottery', {'mask_criterion': 'movement'}.get) == 'lottery_movement'
