"""Generation and execution: ``pool.yaml`` (``models``), the pipeline that generates with
every model and executes each program in a sandbox (``pipeline``), ``rescore`` (stored
generations executed again), and the end-of-run table (``summary``)."""
