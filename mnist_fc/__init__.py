"""LeNet-300-100 on MNIST-format data, as in Frankle & Carbin (ICLR 2019), Figure 2."""
