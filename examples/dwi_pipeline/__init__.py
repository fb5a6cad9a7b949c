"""Example DWI + BOLD-confounds Nipype workflow used to exercise nipype-carbon.

Importable as ``examples.dwi_pipeline`` from the repository root (the benchmarks and
``tests/apps/test_example_dwi.py`` use it so), and as ``dwi_pipeline`` once ``examples/``
is on ``sys.path`` (``run.py`` as a script, and the app the tests run, arrange that).
"""
