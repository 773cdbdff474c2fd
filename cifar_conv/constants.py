"""The paper's settings for Conv-2/4/6 (Frankle & Carbin 2019, Figure 2 and Appendix H) and for
its deep networks, ResNet-20 and VGG-19 (§4 and Appendix I), plus VGG-16 as "Linear Mode
Connectivity and the LTH" (Frankle et al. 2020) trains it.

Adam, batch 60; Conv-2 2e-4 for 20K iterations, Conv-4 3e-4 for 25K, Conv-6 3e-4 for 30K.
Each round prunes conv layers by 10% (Conv-6: 15%), hidden FC layers by 20%, output by 10%.
Dropout variants (rate 0.5): 60K / 75K / 90K iterations, lr 3e-4 (Conv-2) and 2e-4 (Conv-4/6).

Learned masks (the supermask runner; Conv-2/4/6 only) train with edge-popup's settings: SGD 0.1,
momentum 0.9, weight decay 1e-4, cosine schedule, batch 128, 100 epochs of 45,000 examples =
35,100 iterations.

Weights (no biases) on CIFAR-10: Conv-2 4,300,992; Conv-4 2,425,024; Conv-6 2,261,184. The paper
prints 1.7M for Conv-6, which the architecture it describes does not give.
"""

import dataclasses

from lottery_ticket import network

CONV_BLOCKS = {'conv2': (64,), 'conv4': (64, 128), 'conv6': (64, 128, 256)}  # filters per block

_PAPER = {  # name: (title, conv rate, lr, iterations, dropout lr, dropout iterations)
    'conv2': ('Conv-2', 0.10, 2e-4, 20_000, 3e-4, 60_000),
    'conv4': ('Conv-4', 0.10, 3e-4, 25_000, 2e-4, 75_000),
    'conv6': ('Conv-6', 0.15, 3e-4, 30_000, 2e-4, 90_000),
}


def _spec(name, title, conv_rate, learning_rate, iterations, dropout_lr, dropout_iterations):
  conv_layers = 2 * len(CONV_BLOCKS[name])
  rates = {f'conv{i}': conv_rate for i in range(1, conv_layers + 1)}
  rates.update(fc1=0.2, fc2=0.2, output=0.1)
  return network.NetworkSpec(
      name=name, title=title, prune_rates=rates,
      build=network.lazy_build('cifar_conv.model', 'build', CONV_BLOCKS[name]),
      hyperparameters=network.Hyperparameters(learning_rate, iterations, batch_size=60),
      dropout_hyperparameters=network.Hyperparameters(dropout_lr, dropout_iterations, 60),
      supermask_hyperparameters=network.supermask_hyperparameters(45_000),  # 35,100 iterations
      dropout_rate=0.5, jit_compile=False)


NETWORKS = {name: _spec(name, *values) for name, values in _PAPER.items()}

# Deep networks (cifar_conv.deep_models): SGD 0.1 with momentum 0.9 and weight decay 1e-4, the
# learning rate divided by 10 at two milestones, augmentation, global pruning of 20% of the conv
# weights per round (the output layer and ResNet's 1x1 shortcuts are never pruned), accuracy
# reported at fixed iterations. Evaluating 15,000 images costs about as much as
# 15,000 / (3 x batch) training steps (39 at batch 128, 78 at 64), so evaluating every 1,000 /
# 2,000 iterations keeps it under 10% of the time.
RESNET_WIDTHS = (16, 32, 64)  # channels of the three stages
RESNET_DEPTHS = (20, 32, 44, 56, 110)  # 6n + 2
VGG_GROUPS = {  # filters of each convolution, per group; max-pool after all groups but the last
    'vgg16': ((64,) * 2, (128,) * 2, (256,) * 3, (512,) * 3, (512,) * 3),
    'vgg19': ((64,) * 2, (128,) * 2, (256,) * 4, (512,) * 4, (512,) * 4),
}
_SGD = dict(optimizer='sgd', momentum=0.9, weight_decay=1e-4, lr_gamma=0.1, augment=True)
_RESNET = network.Hyperparameters(
    learning_rate=0.1, training_iterations=30_000, batch_size=128,
    lr_milestones=(20_000, 25_000), eval_interval=1000,
    report_iterations=(10_000, 20_000, 30_000), **_SGD)
_VGG19 = network.Hyperparameters(
    learning_rate=0.1, training_iterations=112_480, batch_size=64,
    lr_milestones=(56_240, 84_360), eval_interval=2000,
    report_iterations=(30_000, 60_000, 112_480), **_SGD)
_VGG16 = network.Hyperparameters(
    learning_rate=0.1, training_iterations=62_560, batch_size=128,
    lr_milestones=(31_280, 46_920), eval_interval=1000, report_iterations=(62_560,), **_SGD)


def resnet_layer_kinds(depth):
  """The masked layers of ResNet-`depth` in model order: {name: 'conv'|'shortcut'|'output'}."""
  kinds = {'conv1': 'conv'}
  for stage in range(1, len(RESNET_WIDTHS) + 1):
    for block in range(1, (depth - 2) // 6 + 1):
      kinds[f'stage{stage}_block{block}_conv1'] = 'conv'
      if stage > 1 and block == 1:
        kinds[f'stage{stage}_block{block}_shortcut'] = 'shortcut'
      kinds[f'stage{stage}_block{block}_conv2'] = 'conv'
  kinds['output'] = 'output'
  return kinds


def vgg_layer_kinds(name):
  """The masked layers of VGG `name` in model order: {name: 'conv'|'output'}."""
  count = sum(len(group) for group in VGG_GROUPS[name])
  return {**{f'conv{i}': 'conv' for i in range(1, count + 1)}, 'output': 'output'}


def _deep_spec(name, title, build, layer_kinds, hyperparameters, warmup=None):
  rates = {layer: 0.2 if kind == 'conv' else 0.0 for layer, kind in layer_kinds.items()}
  return network.NetworkSpec(
      name=name, title=title, build=build, prune_rates=rates, hyperparameters=hyperparameters,
      warmup_hyperparameters=warmup, jit_compile=False, pruning='global',
      global_prune_rate=0.2, normalize_inputs=True)


NETWORKS.update({
    f'resnet{depth}': _deep_spec(
        f'resnet{depth}', f'ResNet-{depth}',
        network.lazy_build('cifar_conv.deep_models', 'build_resnet', depth, RESNET_WIDTHS),
        resnet_layer_kinds(depth), _RESNET,
        # The paper's warmup variant: lr 0.03, warmed up over 20K iterations.
        dataclasses.replace(_RESNET, learning_rate=0.03, warmup_iterations=20_000))
    for depth in RESNET_DEPTHS})
NETWORKS.update({
    name: _deep_spec(
        name, name.replace('vgg', 'VGG-'),
        network.lazy_build('cifar_conv.deep_models', 'build_vgg', name, VGG_GROUPS[name]),
        vgg_layer_kinds(name), hyperparameters, warmup)
    for name, hyperparameters, warmup in (
        ('vgg16', _VGG16, None),
        # The paper's warmup variant: lr 0.1, warmed up over 10K iterations.
        ('vgg19', _VGG19, dataclasses.replace(_VGG19, warmup_iterations=10_000)))})
DEFAULT_DATASET = 'cifar10'
