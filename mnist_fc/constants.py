"""The paper's LeNet-300-100 settings (Frankle & Carbin 2019, Figure 2 and Appendix G).

Adam 1.2e-3, batch 60, 50,000 iterations; each round prunes 20% of the surviving weights of
the hidden layers and 10% of the output layer. (The original Google code instead used SGD 0.1
and batch 64; the paper's settings are canonical here.)
Learned masks (the supermask runner) train with edge-popup's settings: SGD 0.1, cosine schedule,
batch 128, 100 epochs of 55,000 examples = 42,900 iterations.
"""

from lottery_ticket import network

LENET = network.NetworkSpec(
    name='lenet300_100',
    title='LeNet-300-100',
    build=network.lazy_build('mnist_fc.model'),
    prune_rates={'hidden1': 0.2, 'hidden2': 0.2, 'output': 0.1},
    hyperparameters=network.Hyperparameters(
        learning_rate=1.2e-3, training_iterations=50_000, batch_size=60),
    supermask_hyperparameters=network.supermask_hyperparameters(55_000),  # 42,900 iterations
)

NETWORKS = {LENET.name: LENET}
DEFAULT_DATASET = 'mnist'
