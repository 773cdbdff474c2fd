"""Masks learned on frozen random weights: edge-popup (Ramanujan et al. 2020) and, with
--binarize, biprop (Diffenderfer & Kailkhura 2021); DESIGN.md §10.

The network's weights are drawn once per --percent_remaining P and never trained (biases are
zero: "no biases"). A trainable score per weight picks the mask: each layer keeps its
round(P% of its weights) largest |scores|, and the gradient passes straight through the mask
to the scores (foundations.masked_layers.SupermaskDense / SupermaskConv2D). Training uses
edge-popup's settings (NetworkSpec.supermask_hyperparameters): SGD with momentum, weight decay
on the scores, a cosine learning-rate schedule.

Each P is one normal run (checkpoints, resume, progress, summary) in
{output_dir}/trial{N}/edge_popup/remaining{P}/ (biprop/remaining{P}/ with --binarize):
masks.npz the learned mask (a ticket `train --masks=RUN` retrains; `--presets=RUN` starts it
from the frozen weights), initial.npz the frozen weights, final.npz the kernels the network
computes with (W·m, or α·sign(W)·m), scores.npz the final scores.
"""

import math

import numpy as np
import tf_keras as keras

from foundations import masked_layers
from foundations import paths
from lottery_ticket.protocols import catalog
from lottery_ticket.protocols import naming
from lottery_ticket.protocols.common import completed


def _fans(shape):
  """(fan_in, fan_out) as Keras counts them: a conv kernel's fans include its receptive field."""
  receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
  return receptive_field * shape[-2], receptive_field * shape[-1]


def frozen_weights(experiment, fraction):
  """The frozen weights for a layer keep fraction k, per --weight_init, fan scaled by k.

  signed_kaiming_constant: sign(z)·sqrt(2 / (fan_in·k)); kaiming_normal: N(0, 2 / (fan_in·k));
  glorot: the network's Gaussian Glorot (truncated normal) with variance 2 / ((fan_in + fan_out)·k).
  Biases are zero. The same seed for every k: only the scale differs between k.
  """
  config = experiment.config
  seed = config.seed_for('supermask_weights')
  weights = {}
  for index, (name, layer) in enumerate(masked_layers.masked_layers(experiment.model).items()):
    shape = tuple(layer.kernel.shape)
    fan_in, _ = _fans(shape)
    if config.weight_init == 'glorot':
      initializer = keras.initializers.VarianceScaling(
          scale=1.0 / fraction, mode='fan_avg', distribution='truncated_normal',
          seed=seed * 1009 + index)
      kernel = np.asarray(initializer(shape, dtype='float32'))
    else:
      std = math.sqrt(2.0 / (fan_in * fraction))
      normal = np.random.default_rng([seed, index]).standard_normal(shape)
      if config.weight_init == 'signed_kaiming_constant':
        kernel = np.where(normal < 0, -std, std)
      else:
        kernel = normal * std
    weights[f'{name}/kernel'] = kernel.astype(np.float32)
    if layer.use_bias:
      weights[f'{name}/bias'] = np.zeros(layer.bias.shape, np.float32)
  return weights


def initial_scores(experiment):
  """{layer: scores} drawn uniformly from ±1/sqrt(fan_in) (edge-popup's Kaiming uniform)."""
  seed = experiment.config.seed_for('supermask_scores')
  scores = {}
  for index, (name, layer) in enumerate(masked_layers.masked_layers(experiment.model).items()):
    shape = tuple(layer.kernel.shape)
    bound = 1.0 / math.sqrt(_fans(shape)[0])
    scores[name] = np.random.default_rng([seed, index]).uniform(
        -bound, bound, shape).astype(np.float32)
  return scores


def run_outputs(experiment, result, masks):
  """The Experiment's run_outputs hook: masks.npz is the learned mask, final.npz the effective
  kernels, scores.npz the scores."""
  del masks  # the learned mask replaces the (full) mask it trained under
  model = experiment.model
  effective = dict(result.final_weights, **masked_layers.effective_kernels(model))
  learned = {name: layer.score_mask()
             for name, layer in masked_layers.supermask_layers(model).items()}
  return learned, {paths.FINAL_WEIGHTS: effective, paths.SCORES: masked_layers.get_scores(model)}


def supermask(experiment):
  """Learns a mask of each --percent_remaining on frozen weights (see the module doc)."""
  config = experiment.config
  name = naming.supermask_kind(naming.of_config(config))
  scores = initial_scores(experiment)
  for percent, run in zip(config.percent_remaining, catalog.get('supermask').run_dirs(config)):
    if completed(run.run_dir) is not None:
      continue
    fraction = percent / 100.0
    masked_layers.set_keep_fraction(experiment.model, fraction)
    masked_layers.set_scores(experiment.model, scores)  # a resumed run restores its own
    experiment.train_recorded_run(run.run_dir, experiment.full_masks(),
                                  frozen_weights(experiment, fraction), run.label,
                                  protocol='supermask', kind=name,
                                  weight_init=config.weight_init,
                                  target_percent_remaining=percent)
