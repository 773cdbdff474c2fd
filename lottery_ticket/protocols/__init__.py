"""The protocols: the catalog (catalog.py: what each protocol is), and a module per protocol.

Importing this package imports nothing else, so the catalog can be read without TensorFlow.
"""
