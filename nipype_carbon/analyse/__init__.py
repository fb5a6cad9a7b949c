"""Stage 3, analyse: pure functions from a session's raw records to energy and CO2e.

Each host's samples merged on one timeline
(:mod:`~nipype_carbon.analyse.host_timeline`), its energy split among the
nodes (:mod:`~nipype_carbon.analyse.attribution`), energy that caching
avoided (:mod:`~nipype_carbon.analyse.reuse`), and the one emissions formula
(:mod:`~nipype_carbon.analyse.carbon`). Imports record and measure.
"""
