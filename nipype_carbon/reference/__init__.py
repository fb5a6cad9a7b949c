"""Reference data shipped with the package, beneath every stage.

CPU and GPU rated power (:mod:`~nipype_carbon.reference.hardware`) for the
model meter, and grid carbon intensity by region with PUE
(:mod:`~nipype_carbon.reference.grids`) for the settings and the carbon stage.
Standard library only. Sources and licences: ``reference/data/README.md``.
"""
