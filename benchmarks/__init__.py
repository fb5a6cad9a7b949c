"""Benchmarks: scripts that print figures (not timed tests), by family, each run from the
repository's root as a module::

    python -m benchmarks.cost.overhead          # what metering costs a run, per node, at start-up
    python -m benchmarks.cost.report_scale      # renderers on a 10,000-node session
    python -m benchmarks.cost.graph_scale       # the graph on a large study
    python -m benchmarks.accuracy.validity      # per-node error against an emulated counter
    python -m benchmarks.trackers.compare       # beside CodeCarbon, Carbontracker, ...
    python -m benchmarks.pipelines.energy       # the example's steps and alternatives per subject

What they share with the tests (fakes, the validation scenario, synthetic sessions) is the
``testkit`` package; figures they record go to ``benchmarks/results`` and the docs.
"""
