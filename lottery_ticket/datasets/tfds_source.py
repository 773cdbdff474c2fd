"""Loading a dataset through tensorflow-datasets, failing fast when it cannot be downloaded.

Offline, tfds retries its downloads for minutes before failing, and without importlib_resources
(which it needs but does not declare) it fails deep inside. Both are checked up front, before
tfds is even imported, so a dataset that cannot be had fails in seconds (DownloadImpossible;
lottery_ticket.datasets turns it into a message listing every way to get the data).
"""

import os
import socket
import urllib.parse

import numpy as np

from foundations import console
from foundations import errors

CONNECT_TIMEOUT_SECONDS = 3.0


def default_data_dir():
  return os.environ.get('TFDS_DATA_DIR', os.path.expanduser('~/tensorflow_datasets'))


class DownloadImpossible(errors.UserInputError):
  """tensorflow-datasets has no prepared copy and could not download one; says why."""


def may_be_prepared(tfds_name, data_dir=None):
  """Whether `data_dir` may hold a prepared copy (checked without importing tfds, which warns
  about a data directory that does not exist)."""
  return os.path.isdir(os.path.join(data_dir or default_data_dir(), tfds_name))


def check_download_possible(tfds_name, download_url):
  """Raises DownloadImpossible unless tfds could download `tfds_name` from `download_url`."""
  try:
    import importlib_resources  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    raise DownloadImpossible('downloading needs the importlib_resources package '
                             '(pip install importlib_resources)') from None
  url = urllib.parse.urlparse(download_url)
  port = url.port or (443 if url.scheme == 'https' else 80)
  try:
    socket.create_connection((url.hostname, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
  except OSError as e:
    raise DownloadImpossible(f'cannot download it from {url.hostname} ({e})') from None


def load(tfds_name, download_url, data_dir=None):
  """{'train': (images, labels), 'test': (images, labels)} as uint8 numpy arrays.

  Uses a prepared copy in `data_dir` (default: $TFDS_DATA_DIR or ~/tensorflow_datasets) and
  downloads only when there is none.
  """
  checked = not may_be_prepared(tfds_name, data_dir)
  if checked:  # before tfds is imported: no copy, so a download is the only way
    check_download_possible(tfds_name, download_url)
  console.import_tensorflow()
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
  builder = tfds.builder(tfds_name, data_dir=data_dir or default_data_dir())
  if not builder.is_prepared():
    if not checked:
      check_download_possible(tfds_name, download_url)
    builder.download_and_prepare()
  splits = {}
  for split in ('train', 'test'):
    batches = list(tfds.as_numpy(
        builder.as_dataset(split=split, batch_size=10_000, as_supervised=True)))
    splits[split] = tuple(np.concatenate([batch[i] for batch in batches]).astype(np.uint8)
                          for i in (0, 1))
  return splits
