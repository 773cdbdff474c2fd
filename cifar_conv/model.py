"""The paper's VGG-like Conv-2/4/6: blocks of two 3x3 'same' convolutions and a 2x2 max-pool,
then FC 256 -> FC 256 -> output; ReLU and Gaussian Glorot initialisation throughout.

Masked layers are named conv1..convN, fc1, fc2, output. With dropout, it follows each of the
two hidden fully connected layers and is active only in training.
"""

import tf_keras as keras

from foundations import masked_layers

FC_UNITS = (256, 256)


def build(block_filters, input_shape, num_classes, dropout_rate=0.0):
  """A built Conv-x model: per block of `block_filters`, two convolutions and a max-pool.

  Args:
    block_filters: filters per block, e.g. constants.CONV_BLOCKS['conv4'] = (64, 128).
    input_shape: (H, W, C) of uint8 images, scaled to [0, 1] by the first layer.
    num_classes: width of the output layer.
    dropout_rate: dropout after each hidden FC layer (0: none).
  """
  model = keras.Sequential()
  model.add(keras.layers.Rescaling(1.0 / 255, input_shape=tuple(input_shape)))
  conv_index = 0
  for filters in block_filters:
    for _ in range(2):
      conv_index += 1
      model.add(masked_layers.MaskedConv2D(
          filters, 3, padding='same', activation='relu', kernel_initializer='glorot_normal',
          name=f'conv{conv_index}'))
    model.add(keras.layers.MaxPooling2D(2))
  model.add(keras.layers.Flatten())
  return masked_layers.add_dense_head(model, FC_UNITS, num_classes, dropout_rate)
