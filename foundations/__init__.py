"""Generic mechanics of lottery-ticket experiments: masked layers, the trainer, pruning, I/O.

Nothing here knows about datasets, networks or experiment protocols; foundations never imports
lottery_ticket, mnist_fc or cifar_conv.
"""
