"""The run store (one SQLite file per run directory: ``runstore``, its lock ``lock``, what
made its verdicts ``provenance``, model identities ``identity``) and what reads it: the pass
matrix (``matrix``) and several run directories or matrix files as one (``sources``)."""
