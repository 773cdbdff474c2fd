"""The paper's deep CIFAR-10 networks (its §4): the CIFAR ResNet-(6n+2) family (ResNet-20 is what
the paper calls "Resnet-18") and VGG-16/19 adapted to CIFAR-10, all with BatchNorm.

Every 3x3 convolution is a masked layer followed by BatchNorm (never pruned) and ReLU, without a
bias (BatchNorm's beta takes its place). Kernels are untruncated He normal (PyTorch's and
open_lth's kaiming_normal; Keras' HeNormal is truncated). Inputs are scaled to [0, 1] and then
normalised per channel with the training split's statistics. Masked layer names:
  ResNet: conv1, stage{s}_block{b}_conv{1,2}, stage{s}_block1_shortcut (1x1, stride 2, in
    stages 2 and 3), output.
  VGG: conv1..convN, output.
"""

import numpy as np
import tf_keras as keras

from foundations import masked_layers

def he_normal():
  return keras.initializers.VarianceScaling(2.0, 'fan_in', 'untruncated_normal')


def _conv(filters, kernel_size, name, strides=1):
  return masked_layers.MaskedConv2D(filters, kernel_size, strides=strides, padding='same',
                                    use_bias=False, kernel_initializer=he_normal(), name=name)


def _batch_norm(name):
  # PyTorch's defaults: momentum 0.1 (Keras counts it the other way) and epsilon 1e-5.
  return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _input(input_shape, channel_statistics):
  """The uint8 input, scaled to [0, 1] and normalised per channel."""
  inputs = keras.Input(shape=tuple(input_shape))
  x = keras.layers.Rescaling(1.0 / 255)(inputs)
  if channel_statistics is not None:
    mean, std = channel_statistics
    x = keras.layers.Normalization(mean=np.asarray(mean), variance=np.square(std),
                                   name='normalize')(x)
  return inputs, x


def _output(inputs, x, num_classes, name):
  x = keras.layers.GlobalAveragePooling2D()(x)
  outputs = masked_layers.MaskedDense(num_classes, kernel_initializer=he_normal(),
                                      name='output')(x)
  return keras.Model(inputs, outputs, name=name)


def _check_no_dropout(name, dropout_rate):
  if dropout_rate:
    raise ValueError(f'{name} has no dropout variant')


def build_resnet(depth, widths, input_shape, num_classes, dropout_rate=0.0,
                 channel_statistics=None):
  """The CIFAR ResNet of `depth` = 6n + 2 layers: 3 stages of n basic blocks at `widths`.

  Args:
    depth: 6n + 2 (20 for ResNet-20).
    widths: channels of the three stages, constants.RESNET_WIDTHS = (16, 32, 64).
    input_shape: (H, W, C) of uint8 images.
    num_classes: width of the output layer.
    dropout_rate: must be 0 (no dropout variant).
    channel_statistics: optional (mean, std) per channel of the [0, 1]-scaled training images.
  """
  if depth < 8 or (depth - 2) % 6:
    raise ValueError(f'ResNet depth must be 6n + 2 with n >= 1, not {depth}')
  _check_no_dropout(f'resnet{depth}', dropout_rate)
  inputs, x = _input(input_shape, channel_statistics)
  x = keras.layers.ReLU()(_batch_norm('bn1')(_conv(widths[0], 3, 'conv1')(x)))
  for stage, filters in enumerate(widths, start=1):
    for block in range(1, (depth - 2) // 6 + 1):
      name = f'stage{stage}_block{block}'
      strides = 2 if stage > 1 and block == 1 else 1
      y = _conv(filters, 3, f'{name}_conv1', strides)(x)
      y = keras.layers.ReLU()(_batch_norm(f'{name}_bn1')(y))
      y = _batch_norm(f'{name}_bn2')(_conv(filters, 3, f'{name}_conv2')(y))
      if strides != 1:
        x = _batch_norm(f'{name}_shortcut_bn')(_conv(filters, 1, f'{name}_shortcut', strides)(x))
      x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
  return _output(inputs, x, num_classes, f'resnet{depth}')


def build_vgg(name, groups, input_shape, num_classes, dropout_rate=0.0,
              channel_statistics=None):
  """VGG for CIFAR-10: 3x3 conv `groups` (constants.VGG_GROUPS[name]), a max-pool after every
  group but the last, global average pooling and one dense output layer."""
  _check_no_dropout(name, dropout_rate)
  inputs, x = _input(input_shape, channel_statistics)
  index = 0
  for group, filters_list in enumerate(groups):
    for filters in filters_list:
      index += 1
      x = _conv(filters, 3, f'conv{index}')(x)
      x = keras.layers.ReLU()(_batch_norm(f'bn{index}')(x))
    if group < len(groups) - 1:
      x = keras.layers.MaxPooling2D(2)(x)
  return _output(inputs, x, num_classes, name)
