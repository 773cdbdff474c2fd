"""Analysis of finished experiments: load runs, summarize them, draw the paper's figures, report.

load (directory -> one row per evaluation) -> summary (per run, per sparsity) -> figures and
report. Nothing here imports TensorFlow; it reads only the files the runners wrote.
"""
