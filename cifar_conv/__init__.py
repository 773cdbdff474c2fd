"""Conv-2, Conv-4 and Conv-6 on CIFAR-10, as in Frankle & Carbin (ICLR 2019), Figures 5 and 6."""
