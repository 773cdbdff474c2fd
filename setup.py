"""Lottery Ticket Hypothesis experiments in TensorFlow 2 / tf_keras."""

import setuptools

setuptools.setup(
    name='lottery-ticket-tf2',
    version='0.1.0',
    description='Winning tickets by iterative magnitude pruning (Frankle & Carbin, ICLR 2019) '
                'in TensorFlow 2',
    packages=setuptools.find_packages(include=['foundations', 'lottery_ticket*', 'mnist_fc*', 'cifar_conv*']),
    package_data={'lottery_ticket.datasets': ['fashion_mnist_sample/*']},  # the bundled sample
    python_requires='>=3.10,<3.13',
    install_requires=[
        'tensorflow>=2.16,<2.22',
        'tf-keras>=2.16,<2.22',
        'tensorboard>=2.16,<2.22',  # tf.summary needs it; TF 2.21 no longer installs it
        'tensorflow-datasets>=4.9,<5',
        'importlib_resources>=5',  # tfds needs it to download but does not declare it
        'tensorflow-model-optimization>=0.8,<0.9',
        'ai-edge-litert>=1.2,<3',  # LiteRT's interpreter; tf.lite.Interpreter is deprecated
        'numpy>=1.26,<3',
        'absl-py>=1.2,<2',  # tensorflow-model-optimization 0.8 pins absl-py~=1.2
        'pandas>=2,<3',
        'matplotlib>=3.7,<4',
    ],
    extras_require={
        # lottery_ticket.sweep --engine=ray; [default] brings the dashboard. Token
        # authentication, which the sweep turns on for its own instance, came in Ray 2.52.
        'ray': ['ray[default]>=2.52,<3'],
        'test': ['pytest>=7', 'pytest-xdist>=3,<4',  # one test process per core
                 'ray[default]>=2.52,<3'],
    },
)
