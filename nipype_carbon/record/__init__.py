"""Stage 2, record: one run, written down as it happens.

The settings of a run (:mod:`~nipype_carbon.record.settings`), the metered
run of one node wherever it runs (:mod:`~nipype_carbon.record.noderun`), the
spool that carries its record back (:mod:`~nipype_carbon.record.spool`), the
run recorder in the driving process (:mod:`~nipype_carbon.record.recorder`)
with the scheduler's own record (:mod:`~nipype_carbon.record.scheduler`), and
the session format, written and read (:mod:`~nipype_carbon.record.session`,
record types in :mod:`~nipype_carbon.record.records`). Imports only measure.
"""
