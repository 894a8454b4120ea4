"""Generation and execution: ``pool.yaml`` (``pool_file``), the runner that generates with
every model and executes each program in a sandbox (``runner``: ``RunConfig``, ``run``),
``rescore`` (stored generations executed again), the end-of-run table (``summary``) and
the error for a dataset no model has a sample of (``no_samples``)."""
