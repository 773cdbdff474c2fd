"""The recorded settings of an output directory, across versions of the settings."""

import dataclasses
import json
import os

import pytest

from foundations import errors
from lottery_ticket import config as config_lib
from lottery_ticket import recorded_settings


def _config(output_dir, **overrides):
  values = dict(protocol='lottery', network='lenet300_100', dataset='mnist',
                output_dir=output_dir, training_iterations=100, batch_size=60,
                learning_rate=1.2e-3)
  values.update(overrides)
  return config_lib.ExperimentConfig(**values)


def test_settings_recorded_before_the_sgd_and_rewinding_flags_are_accepted(tmp_path):
  config = _config(str(tmp_path))
  older = {name: value for name, value in recorded_settings._settings(config).items()  # pylint: disable=protected-access
           if name in ('network', 'dataset', 'training_iterations', 'batch_size',
                       'learning_rate', 'dropout', 'eval_interval', 'validation_size', 'seed',
                       'jit_compile')}
  with open(os.path.join(tmp_path, recorded_settings.SETTINGS_FILE), 'w') as f:
    json.dump(older, f)
  recorded_settings.check_settings(config)  # the new settings at their earlier meaning: accepted
  with pytest.raises(errors.UserInputError, match=r'--rewind_iteration=5 \(was 0\)'):
    recorded_settings.check_settings(_config(str(tmp_path), rewind_iteration=5))
  with pytest.raises(errors.UserInputError, match=r'--lr_milestones=50,80 \(was \)'):
    recorded_settings.check_settings(_config(str(tmp_path), lr_milestones=(50, 80)))


def test_settings_file_that_is_not_an_object_is_refused(tmp_path):
  with open(os.path.join(tmp_path, recorded_settings.SETTINGS_FILE), 'w') as f:
    json.dump([1, 2], f)
  with pytest.raises(errors.UserInputError, match='expected a JSON object, found a JSON list'):
    recorded_settings.check_settings(_config(str(tmp_path)))


def test_recorded_tuples_compare_equal_to_their_json_lists(tmp_path):
  config = _config(str(tmp_path), lr_milestones=(50, 80), optimizer='sgd', momentum=0.9)
  recorded_settings.record_settings(config)
  recorded_settings.check_settings(config)


def test_supermask_settings_have_their_own_file_but_share_network_data_and_seed(tmp_path):
  recorded_settings.record_settings(_config(str(tmp_path)))
  learned = _config(str(tmp_path), protocol='supermask', learning_rate=0.1, optimizer='sgd',
                    momentum=0.9, lr_schedule='cosine', percent_remaining=(50.0,))
  recorded_settings.check_settings(learned)  # other training settings: accepted
  recorded_settings.record_settings(learned)
  assert os.path.isfile(os.path.join(tmp_path, 'edge_popup.json'))
  biprop = dataclasses.replace(learned, binarize=True, weight_init='kaiming_normal')
  recorded_settings.check_settings(biprop)  # beside it, with its own settings file and weight init
  recorded_settings.record_settings(biprop)
  assert os.path.isfile(os.path.join(tmp_path, 'biprop.json'))
  with pytest.raises(errors.UserInputError, match=r'--weight_init=glorot'):
    recorded_settings.check_settings(dataclasses.replace(learned, weight_init='glorot'))
  with pytest.raises(errors.UserInputError, match=r'--seed=4 \(was 0\)'):
    recorded_settings.check_settings(dataclasses.replace(learned, seed=4))
  with pytest.raises(errors.UserInputError, match=r'--lr_schedule=cosine \(was step\)'):
    recorded_settings.check_settings(_config(str(tmp_path), lr_schedule='cosine'))
