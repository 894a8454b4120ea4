"""An imported file's recorded responses as what the cascade (and a later re-execution)
runs: one sample per (problem, model), its program extracted as the replay provider
does (``benchmarks.extract``: the ``<think>`` part dropped, then ``program_for``), with
the file's score and cost. Problems not matched to a bundled problem get no program."""

from __future__ import annotations

import pandas as pd

from ..data import Execution, Sample, default_sandbox


def execution_of(problems: dict[str, tuple], responses: pd.DataFrame | None, scores: pd.DataFrame,
                 costs: pd.DataFrame) -> Execution:
    """``problems``: id -> (benchmark, problem) of the matched ids; programs are made on
    first use (``Execution.load``)."""
    def load() -> tuple[dict, dict]:
        from benchmarks.extract import program_for, split_thinking

        samples = {}
        for pid in scores.index:
            hit = problems.get(pid)
            for model in scores.columns:
                text = None if responses is None else responses.at[pid, model]
                if pd.isna(scores.at[pid, model]) or not isinstance(text, str):
                    continue
                program = program_for(*hit, split_thinking(text)[1])[1] if hit else None
                samples[(pid, model)] = [Sample(program, float(scores.at[pid, model]), float(costs.at[pid, model]))]
        return dict(problems), samples

    return Execution(load, default_sandbox)
