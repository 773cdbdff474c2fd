"""Benchmarks: run as `python -m benchmarks.NAME`; never timed inside the test suite."""
