"""What the tests and the benchmarks share, and the wheel leaves out.

- :mod:`testkit.powercap`, :mod:`testkit.nvml`, :mod:`testkit.pyrapl`: fakes of the hardware
  this machine lacks, behind the interfaces the real tools read (a powercap tree of files,
  an NVML module, a pyRAPL sensor).
- :mod:`testkit.scenario`: the validation scenario, known work on an emulated counter whose
  energy is the truth the meters are checked against.
- :mod:`testkit.sessions`: synthetic sessions built through the public API (one builder for
  the tests' properties and the report and graph benchmarks).

Not part of nipype-carbon: the package (``setup.cfg``'s ``packages.find``) includes only
``nipype_carbon`` and ``pydra_carbon``, and an import contract keeps them from importing
this. Run from the repository's root (``pytest``, ``python -m benchmarks...``), where it
is importable.
"""
