"""Command-line entry points: python -m cifar_conv.runners.NAME --network=conv2|conv4|conv6."""
