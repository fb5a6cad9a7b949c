"""Stage 1, measure: what runs beside a node.

Meters of the host (:mod:`~nipype_carbon.measure.meters`), the node meter
(:mod:`~nipype_carbon.measure.nodemeter`), the CPU and memory of a process
tree (:mod:`~nipype_carbon.measure.proctree`), host facts read from ``/proc``
(:mod:`~nipype_carbon.measure.host`, :mod:`~nipype_carbon.measure.procfs`),
and the plain types it hands up (:mod:`~nipype_carbon.measure.measurement`).
Standard library only, so it runs inside an application's container from a
bind-mounted directory. Knows nothing of workflows, sessions or reports.
"""
