"""Routers on stored runs: run directories as router data (``from_runs``), training, scoring
and comparing routers (``experiments``), the regression ``gate``, and the execution cache that
lets the cascade execute without paying twice (``exec_cache``)."""
