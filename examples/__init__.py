"""The examples: real pipelines, metered. Each runs as a script (``python3
examples/dwi_pipeline/run.py``) and imports as a package from the repository root
(``examples.dwi_pipeline``: what the benchmarks use)."""
