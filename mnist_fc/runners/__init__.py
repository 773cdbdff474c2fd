"""Command-line entry points: python -m mnist_fc.runners.NAME --helpfull."""
