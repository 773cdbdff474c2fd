"""Loading a dataset through tensorflow-datasets, failing fast when it cannot be downloaded.

Offline, tfds retries its downloads for minutes before failing, and without importlib_resources
(which it needs but does not declare) it fails deep inside. Both are checked up front, so a
dataset that cannot be had fails in seconds with a message that names --dataset_path.
"""

import os
import socket
import urllib.parse

import numpy as np

from foundations import errors

CONNECT_TIMEOUT_SECONDS = 3.0


def default_data_dir():
  return os.environ.get('TFDS_DATA_DIR', os.path.expanduser('~/tensorflow_datasets'))


def check_download_possible(tfds_name, download_url):
  """Raises UserInputError unless tfds could download `tfds_name` from `download_url`."""
  hint = (f'or pass --dataset_path=DIR with the files, or put a prepared tfds copy in '
          f'{default_data_dir()}')
  try:
    import importlib_resources  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    raise errors.UserInputError(
        f'--dataset={tfds_name}: downloading needs the importlib_resources package '
        f'(pip install importlib_resources), {hint}') from None
  url = urllib.parse.urlparse(download_url)
  port = url.port or (443 if url.scheme == 'https' else 80)
  try:
    socket.create_connection((url.hostname, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
  except OSError as e:
    raise errors.UserInputError(
        f'--dataset={tfds_name}: cannot download from {url.hostname} ({e}); '
        f'download it elsewhere and {hint}') from None


def load(tfds_name, download_url, data_dir=None):
  """{'train': (images, labels), 'test': (images, labels)} as uint8 numpy arrays.

  Uses a prepared copy in `data_dir` (default: $TFDS_DATA_DIR or ~/tensorflow_datasets) and
  downloads only when there is none.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (slow import)
  builder = tfds.builder(tfds_name, data_dir=data_dir or default_data_dir())
  if not builder.is_prepared():
    check_download_possible(tfds_name, download_url)
    builder.download_and_prepare()
  splits = {}
  for split in ('train', 'test'):
    batches = list(tfds.as_numpy(
        builder.as_dataset(split=split, batch_size=10_000, as_supervised=True)))
    splits[split] = tuple(np.concatenate([batch[i] for batch in batches]).astype(np.uint8)
                          for i in (0, 1))
  return splits
