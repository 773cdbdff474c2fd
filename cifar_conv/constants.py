"""The paper's Conv-2/4/6 settings (Frankle & Carbin 2019, Figure 2 and Appendix H).

Adam, batch 60; Conv-2 2e-4 for 20K iterations, Conv-4 3e-4 for 25K, Conv-6 3e-4 for 30K.
Each round prunes conv layers by 10% (Conv-6: 15%), hidden FC layers by 20%, output by 10%.
Dropout variants (rate 0.5): 60K / 75K / 90K iterations, lr 3e-4 (Conv-2) and 2e-4 (Conv-4/6).

Weights (no biases) on CIFAR-10: Conv-2 4,300,992; Conv-4 2,425,024; Conv-6 2,261,184. The paper
prints 1.7M for Conv-6, which the architecture it describes does not give.
"""

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
      dropout_rate=0.5, jit_compile=False)


NETWORKS = {name: _spec(name, *values) for name, values in _PAPER.items()}
DEFAULT_DATASET = 'cifar10'
