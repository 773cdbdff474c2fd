"""Peak memory over the levels of a real LeNet lottery experiment (does anything grow per level?)."""

import os
import resource
import tempfile

from lottery_ticket import config as config_lib
from lottery_ticket import experiment as experiment_lib
from lottery_ticket.datasets import synthetic
from lottery_ticket.protocols import lottery
from mnist_fc import constants as lenet_constants


def rss_over_levels(levels, iterations, sizes):
  """Peak RSS (MiB) after level 1 and after the last level, and the compiled functions' traces."""
  rss = {}
  with tempfile.TemporaryDirectory() as directory:
    synthetic.make_idx_dataset(os.path.join(directory, 'data'), sizes[0] + sizes[1], sizes[2])
    config = config_lib.ExperimentConfig(
        protocol='lottery', network='lenet300_100', dataset='mnist',
        dataset_path=os.path.join(directory, 'data'), output_dir=os.path.join(directory, 'out'),
        training_iterations=iterations, batch_size=60, learning_rate=1.2e-3,
        validation_size=sizes[1], levels=0, progress_seconds=1e9)
    experiment = experiment_lib.Experiment(config, lenet_constants.LENET)
    for level in range(1, levels + 1):
      experiment.config = config_lib.dataclasses.replace(config, levels=level - 1)
      lottery.lottery(experiment)  # levels done before are skipped (resumed from disk)
      rss[level] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traces = experiment.trainer.traces
  return {'rss_mib_after_level_1': rss[1], f'rss_mib_after_level_{levels}': rss[levels],
          'traces': traces}


def flat(report):
  """Whether peak RSS after the last level is within 10% of that after level 1."""
  last = max(int(k.rsplit('_', 1)[1]) for k in report if k.startswith('rss'))
  return report[f'rss_mib_after_level_{last}'] <= 1.1 * report['rss_mib_after_level_1']
