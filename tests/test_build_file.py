"""BUILD lists every Python file of the packages, runners and tests, and nothing that is missing."""

import glob
import os
import re

from tests import conftest

PACKAGES = ('foundations', 'lottery_ticket', 'mnist_fc', 'cifar_conv', 'benchmarks', 'tests')
ENTRY_POINTS = ('lottery_ticket/export.py', 'lottery_ticket/sweep.py')  # library modules that also have a py_binary


def _build_text():
  with open(os.path.join(conftest.REPO_ROOT, 'BUILD')) as f:
    return f.read()


def _named_files():
  return set(re.findall(r'"([\w/]+\.py)"', _build_text()))


def test_every_python_file_is_in_build():
  files = set()
  for package in PACKAGES:
    for path in glob.glob(os.path.join(conftest.REPO_ROOT, package, '**', '*.py'), recursive=True):
      files.add(os.path.relpath(path, conftest.REPO_ROOT))
  assert files, 'no package files found'
  assert sorted(files - _named_files()) == []


def test_build_names_only_existing_files():
  missing = [f for f in _named_files() if not os.path.isfile(os.path.join(conftest.REPO_ROOT, f))]
  assert missing == []


def test_runners_and_tests_have_targets():
  text = _build_text()
  for runner in glob.glob(os.path.join(conftest.REPO_ROOT, '*', 'runners', '[!_]*.py')):
    assert f'"{os.path.relpath(runner, conftest.REPO_ROOT)}"' in text
  assert text.count('py_test(') == len(glob.glob(os.path.join(conftest.REPO_ROOT, 'tests',
                                                              'test_*.py')))
  binaries = glob.glob(os.path.join(conftest.REPO_ROOT, '*', 'runners', '[!_]*.py'))
  binaries += glob.glob(os.path.join(conftest.REPO_ROOT, 'benchmarks', '[!_]*.py'))
  binaries += [os.path.join(conftest.REPO_ROOT, path) for path in ENTRY_POINTS]
  for path in ENTRY_POINTS:
    assert f'main = "{path}"' in text
  assert text.count('py_binary(') == len(binaries)
