"""LeNet-300-100: FC 300 -> FC 100 -> FC 10, ReLU, Gaussian Glorot initialisation."""

import tf_keras as keras

from foundations import masked_layers

HIDDEN_UNITS = (300, 100)


def build(input_shape, num_classes, dropout_rate=0.0):
  """A built LeNet-300-100 with masked layers 'hidden1', 'hidden2', 'output'.

  Args:
    input_shape: (H, W, C) of uint8 images, scaled to [0, 1] by the first layer.
    num_classes: width of the output layer.
    dropout_rate: dropout after each hidden layer (0: none, as in the paper).
  """
  model = keras.Sequential(name='lenet300_100')
  model.add(keras.layers.Rescaling(1.0 / 255, input_shape=tuple(input_shape)))
  model.add(keras.layers.Flatten())
  return masked_layers.add_dense_head(model, HIDDEN_UNITS, num_classes, dropout_rate,
                                      prefix='hidden')
