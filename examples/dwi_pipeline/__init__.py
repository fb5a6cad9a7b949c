"""Example DWI + BOLD-confounds Nipype workflow used to exercise nipype-carbon.

Importable as ``dwi_pipeline`` once ``examples/`` is on ``sys.path`` (``run.py`` and
``tests/test_example_dwi.py`` arrange that).
"""
