"""Studies: every run of a dataset as subjects and steps (``nipype-carbon study``).

Stage: between the commands and the report. :mod:`~nipype_carbon.study.subjects` reads
subjects and steps from names; :mod:`~nipype_carbon.study.summary` sums a run up once with
the report's own model; :mod:`~nipype_carbon.study.store` keeps summaries in the user's
cache; :mod:`~nipype_carbon.study.build` aggregates them; :mod:`~nipype_carbon.study.formats`
renders the study.
"""
