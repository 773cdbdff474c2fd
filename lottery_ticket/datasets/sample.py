"""The Fashion-MNIST sample that ships with the package, and how it was made.

`fashion_mnist_sample` is 10,000 training and 2,000 test images of Fashion-MNIST (Xiao, Rasul &
Vollgraf 2017, MIT licence; see LICENSE in its directory), 1,000 and 200 of each class, drawn
once with a fixed seed from the full set that Debian's `dataset-fashion-mnist` package carries.
It is stored as the four gzipped IDX files the full dataset has, so it loads through the same
IDX code path. It exists so that a first experiment runs anywhere right after `pip install`;
results on it are results on a sample, not on Fashion-MNIST.

  python -m lottery_ticket.datasets.sample --source=/usr/share/datasets/fashion-mnist

rewrites the files (byte for byte the same, from the same source).
"""

import os

import numpy as np

from lottery_ticket.datasets import idx

DIRECTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fashion_mnist_sample')
PER_CLASS = {'train': 1000, 'test': 200}
VALIDATION_SIZE = 1000  # of the 10,000 training images: 9,000 train, 1,000 validation
SEED = 0


def balanced_indices(labels, per_class, seed):
  """Sorted indices of `per_class` examples of every class, drawn with `seed`."""
  rng = np.random.default_rng(seed)
  chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class]
            for c in range(int(labels.max()) + 1)]
  return np.sort(np.concatenate(chosen))


def make(source_dir, target_dir=DIRECTORY):
  """Writes the sample's four .gz IDX files into `target_dir` from the full set in `source_dir`."""
  os.makedirs(target_dir, exist_ok=True)
  for split, per_class in PER_CLASS.items():
    images, labels = idx.load_split(source_dir, split)
    keep = balanced_indices(labels, per_class, SEED)
    image_name, label_name = idx.SPLIT_FILES[split]
    idx.write_idx(os.path.join(target_dir, image_name + '.gz'), images[keep, ..., 0])
    idx.write_idx(os.path.join(target_dir, label_name + '.gz'), labels[keep])


if __name__ == '__main__':
  import argparse  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--source', required=True, help='Directory of the full Fashion-MNIST.')
  make(parser.parse_args().source)
