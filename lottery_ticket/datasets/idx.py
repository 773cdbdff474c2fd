"""Reading MNIST-format IDX files (plain or gzipped), checked against the format, and writing them.

IDX layout: 2 zero bytes, a type byte (0x08 = unsigned byte), a dimension count, then one
big-endian uint32 per dimension, then the data. Images are rank 3, labels rank 1.
"""

import gzip
import os

import numpy as np

from foundations import errors

_UNSIGNED_BYTE = 0x08

# The file names of the four files, as published (and as Debian's dataset packages ship them).
SPLIT_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def read_idx(path, rank):
  """Returns the array in the IDX file at `path`, which must have `rank` dimensions."""
  opener = gzip.open if path.endswith('.gz') else open
  try:
    with opener(path, 'rb') as f:
      data = f.read()
  except (OSError, EOFError) as e:
    raise errors.UserInputError(f'{path}: cannot read IDX file ({e})') from None
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _UNSIGNED_BYTE:
    raise errors.UserInputError(
        f'{path}: not an IDX file of unsigned bytes (wrong magic number {data[:4].hex()})')
  if data[3] != rank:
    raise errors.UserInputError(f'{path}: IDX file has {data[3]} dimensions, expected {rank}')
  header = 4 + 4 * rank
  shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype='>u4'))
  expected = header + int(np.prod(shape))
  if len(data) != expected:
    raise errors.UserInputError(
        f'{path}: IDX file is {len(data)} bytes, its header {shape} needs {expected} (truncated?)')
  return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path, array):
  """Writes a uint8 array as an IDX file (gzipped if `path` ends with .gz)."""
  header = bytes([0, 0, _UNSIGNED_BYTE, array.ndim]) + np.asarray(array.shape, '>u4').tobytes()
  if path.endswith('.gz'):  # mtime 0: the same array gives the same bytes
    opener = lambda p, mode: gzip.GzipFile(p, mode, mtime=0)  # pylint: disable=unnecessary-lambda-assignment
  else:
    opener = open
  with opener(path, 'wb') as f:
    f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def find_file(directory, name):
  """The path of `name` or `name.gz` in `directory` (also MNIST's 'train-images.idx3-ubyte')."""
  candidates = [name, name + '.gz']
  dotted = name.replace('-idx', '.idx')
  candidates += [dotted, dotted + '.gz']
  for candidate in candidates:
    path = os.path.join(directory, candidate)
    if os.path.isfile(path):
      return path
  raise errors.UserInputError(
      f'--dataset_path={directory}: missing IDX file {name} (or {name}.gz)')


def has_files(directory):
  """True if `directory` holds the training images in any accepted spelling."""
  try:
    find_file(directory, SPLIT_FILES['train'][0])
    return True
  except errors.UserInputError:
    return False


def load_split(directory, split):
  """(images [N, H, W, 1] uint8, labels [N] uint8) of 'train' or 'test'."""
  image_name, label_name = SPLIT_FILES[split]
  images = read_idx(find_file(directory, image_name), rank=3)
  labels = read_idx(find_file(directory, label_name), rank=1)
  if len(images) != len(labels):
    raise errors.UserInputError(
        f'--dataset_path={directory}: {split} has {len(images)} images but {len(labels)} labels')
  return images[..., np.newaxis], labels
