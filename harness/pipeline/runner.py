"""``python -m harness run``: generate with every model of a pool, execute in the
sandbox, store each sample as soon as it exists. Generation and execution overlap:
a sample goes to the sandbox the moment it is generated."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks import DataError, Problem, get_benchmark, problem_key
from benchmarks.extract import program_for
from benchmarks.requests import exec_request
from sandboxes import Limits, Verdict

from ..errors import UserError
from ..providers import Generation, GenerationError, Provider, ProviderError, Task, make_provider, model_identity
from ..providers.spec import ModelSpec
from ..score.references import FACTOR, JUDGE_SCALE, MIN_JUDGE_BUDGET
from ..store.identity import identity_changes, normal, resolved
from ..store.lock import LOCK_NAME
from ..store.provenance import environment, executor, other_limits
from ..store.runstore import DB_NAME, RunStore, SampleKey
from .pool_file import load_pool
from .summary import refusal, selection_note, summarize_run


@dataclass(frozen=True)
class RunConfig:
    datasets: tuple[str, ...]
    pool: str
    run_dir: str | None = None
    split: str = "test"
    source: str | None = None
    limit: int | None = None
    n: int | None = None  # samples per problem for every model (default: each model's `n`)
    sandbox: str | None = None
    workers: int | None = None
    timeout: float = 10.0  # for problems without a reference to calibrate from
    memory_mb: int = 1024
    fresh: bool = False
    calibrate: bool = True

    @property
    def directory(self) -> Path:
        if self.run_dir:
            return Path(self.run_dir)
        return Path("results") / f"{'+'.join(self.datasets)}__{Path(self.pool).stem}"


@dataclass(frozen=True)
class Workload:
    dataset: str
    problems: dict[str, Problem]
    aliases: dict[str, tuple[str, ...]]  # our id -> other ids (AdaptiveLLM's...)


def load_workloads(cfg: RunConfig) -> list[Workload]:
    out = []
    for dataset in cfg.datasets:
        try:
            bench = get_benchmark(dataset)
            problems = bench.load(cfg.source, cfg.split)[:cfg.limit]
        except (KeyError, DataError) as exc:
            raise UserError(str(exc).strip("'\"")) from None
        if not problems:  # else the run would blame the models for having no samples of nothing
            raise UserError(f"{dataset}: no problems with tests in {cfg.source or f'split {cfg.split}'}")
        aliases: dict[str, list[str]] = defaultdict(list)
        for alias, pid in bench.aliases(problems).items():
            aliases[pid].append(alias)
        out.append(Workload(dataset, {p.id: p for p in problems}, {k: tuple(v) for k, v in aliases.items()}))
    return out


def open_store(cfg: RunConfig, specs: list[ModelSpec]) -> RunStore:
    """The run's store, checked against this command; nothing in it changes here
    (``Runner`` records the run's definition once the models answered)."""
    directory = cfg.directory
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory}: exists and is not a directory")
    if directory.is_dir() and any(p.name != LOCK_NAME for p in directory.iterdir()) \
            and not (directory / DB_NAME).exists():
        raise UserError(f"{directory}: not empty and not a run directory; choose another --run-dir")
    store = RunStore(directory, lock=True)  # another run using it: refused here
    if cfg.fresh:
        return store
    if (refused := refusal(store.get_meta("run"), run_key(cfg))) is not None:
        store.close()
        raise UserError(f"{directory}: {refused}; use --fresh or another --run-dir")
    known, counts = store.models(), store.sample_counts()
    for spec in specs:
        if counts.get(spec.name) and resolved(known[spec.name]["identity"]) != normal(model_identity(spec)):
            store.close()
            raise UserError(f"{directory}: model {spec.name!r} differs from the one this run started with "
                            f"({spec.origin}): {identity_changes(known[spec.name]['identity'], model_identity(spec))}; "
                            "use --fresh, another --run-dir or a new model name")
    return store


def run_key(cfg: RunConfig) -> dict:
    return {"datasets": sorted(cfg.datasets), "split": cfg.split, "source": cfg.source}


def resume_command(cfg: RunConfig) -> str:
    """The command that resumes this run: its own options, without ``--fresh``."""
    import shlex

    default = RunConfig(cfg.datasets, cfg.pool)
    args = ["python", "-m", "harness", "run", "--dataset", ",".join(cfg.datasets), "--models", cfg.pool,
            "--run-dir", str(cfg.directory)]
    for name in ("split", "source", "limit", "n", "sandbox", "workers", "timeout", "memory_mb"):
        value = getattr(cfg, name)
        if value != getattr(default, name):
            args += [f"--{name.replace('_', '-')}", format(value, "g") if isinstance(value, float) else str(value)]
    return shlex.join(args + ([] if cfg.calibrate else ["--no-calibrate"]))


def stopped(store: RunStore, cfg: RunConfig) -> str:
    """What a stopped run kept, and how to go on."""
    generated, executed = store.progress()
    return (f"{len(generated)} samples stored in {store.dir}, {len(executed)} executed; "
            f"resume with: {resume_command(cfg)}")


def calibrate(store: RunStore, sandbox, work: Workload, problem_ids: set[str], cfg: RunConfig, log) -> None:
    """Per-problem CPU budgets, measured once per run and stored with it: max(--timeout,
    FACTOR x the reference's CPU time here) where a reference passes; a problem without
    one that carries its judge's time limit (CodeContests) gets JUDGE_SCALE x that limit
    (Python on this machine vs the judge's, measured: docs/time-limits.md); else
    --timeout. So a slow machine, or a problem whose reference is slow, raises the
    budget, as evalplus does; --timeout stays the floor."""
    have = store.time_limits(work.dataset)
    todo = [work.problems[p] for p in sorted(problem_ids - set(have), key=problem_key)]
    if not todo:
        return
    limits = Limits(timeout=max(cfg.timeout, 20.0), memory_mb=cfg.memory_mb)
    refs = [p for p in todo if p.references and cfg.calibrate]
    requests = [exec_request(p, p.references[0], limits, id=p.id) for p in refs]
    found: dict[str, tuple[float, str]] = {
        p.id: (round(max(MIN_JUDGE_BUDGET, JUDGE_SCALE * p.time_limit), 2), "judge") if p.time_limit
        else (cfg.timeout, "default") for p in todo}
    if requests:
        from sandboxes.progress import progress

        with progress(total=len(requests), desc=f"calibrating {work.dataset} limits", unit="ref",
                      leave=False) as bar:
            for v in sandbox.run(requests):
                bar.update()
                if v.passed:
                    found[v.id] = (round(max(cfg.timeout, FACTOR * v.max_cpu_time), 2), "reference")
        failed = sum(found[p.id][1] != "reference" for p in refs)
        log(f"{work.dataset}: CPU budgets from {len(refs) - failed} references"
            + (f" ({failed} references failed here: their judge limit or --timeout {cfg.timeout} s)"
               if failed else ""))
    store.set_time_limits(work.dataset, found, cfg.timeout)


class Runner:
    def __init__(self, cfg: RunConfig, specs: list[ModelSpec], work: list[Workload], store: RunStore, log) -> None:
        self.cfg, self.specs, self.work, self.store, self.log = cfg, specs, {w.dataset: w for w in work}, store, log
        self.providers: dict[str, Provider] = {}
        self.limits: dict[str, dict[str, float]] = {}
        # Seconds spent per stage (generation: awaiting providers; execution: busy
        # sandbox workers, summed; storage: SQLite commits on the event loop).
        self.timings: Counter[str] = Counter()
        self.executes = False

    def tasks(self, generated: set[SampleKey]) -> list[tuple[ModelSpec, Task]]:
        """Samples still to generate. Says which models have fewer samples than asked
        for (recordings missing)."""
        for provider in self.providers.values():
            provider.check_source()
        out = []
        have: Counter[tuple[str, str]] = Counter()  # (model, dataset) -> samples available
        short: Counter[str] = Counter()  # model -> problems with fewer than n samples
        for w in self.work.values():
            bench = get_benchmark(w.dataset)
            styles = {s.name: s.style(bench.prompt_styles) for s in self.specs}
            for pid, problem in w.problems.items():
                ids = (pid, *w.aliases.get(pid, ()))
                for spec in self.specs:
                    prompt, count = None, 0
                    for i in range(spec.params.n):
                        key = SampleKey(w.dataset, pid, spec.name, i)
                        if key in generated:
                            count += 1
                            continue
                        if prompt is None:
                            prompt, system = bench.prompt_for(problem, styles[spec.name], spec.prompt_template)
                        task = Task(w.dataset, problem, ids, prompt, i, system)
                        if self.providers[spec.name].available(task):
                            out.append((spec, task))
                            count += 1
                    have[(spec.name, w.dataset)] += count
                    short[spec.name] += 0 < count < spec.params.n
        for d, w in self.work.items():  # a dataset nobody has a sample for: nothing to store, say why
            if not any(have[(s.name, d)] for s in self.specs):
                from .no_samples import no_samples_error

                recorded = set().union(*(self.providers[s.name].recorded_ids(d) or () for s in self.specs))
                raise no_samples_error(d, len(w.problems), [s.name for s in self.specs], recorded, self.cfg.split,
                                       self.cfg.source)
        for spec in self.specs:
            empty = [d for d in self.work if not have[(spec.name, d)]]
            if empty:
                self.log(f"note: model {spec.name!r} has no samples for {', '.join(empty)}: its cells stay empty")
            if short[spec.name]:
                self.log(f"note: model {spec.name!r} has fewer than n={spec.params.n} samples "
                         f"for {short[spec.name]} problems")
        return out

    def request(self, key: SampleKey, program: str):
        w = self.work[key.dataset]
        timeout = self.limits[key.dataset].get(key.problem, self.cfg.timeout)
        limits = Limits(timeout=timeout, memory_mb=self.cfg.memory_mb)
        return exec_request(w.problems[key.problem], program, limits, id=key.problem)

    async def generate_and_execute(self, sandbox) -> None:
        from sandboxes.progress import progress

        for spec in self.specs:
            self.providers[spec.name] = make_provider(spec)
        try:
            generated = set() if self.cfg.fresh else self.store.progress()[0]
            todo = self.tasks(generated)
            # Only models with samples left are started: resuming a finished run needs no endpoint.
            await asyncio.gather(*(self.providers[n].start() for n in {s.name for s, _ in todo}))
            # The models answered: only now may --fresh drop the old run, and the run's
            # definition be recorded.
            if self.cfg.fresh:
                self.store.reset()
            if self.cfg.fresh or self.store.get_meta("run") is None:  # else: it holds these datasets, maybe more
                self.store.set_meta("run", run_key(self.cfg))
            for spec in self.specs:
                if self.store.set_model(spec.name, model_identity(spec), spec.price.input, spec.price.output):
                    self.log(f"note: model {spec.name!r}: price changed; its stored samples' costs recomputed")
            pending = [(k, c) for k, c in self.store.pending_execution()
                       if k.dataset in self.work and k.problem in self.work[k.dataset].problems]
            for w in self.work.values():
                ids = {t.problem.id for _, t in todo if t.dataset == w.dataset}
                ids |= {k.problem for k, _ in pending if k.dataset == w.dataset}
                await asyncio.to_thread(calibrate, self.store, sandbox, w, ids, self.cfg, self.log)
                self.limits[w.dataset] = self.store.time_limits(w.dataset)
            note = other_limits(self.store, self.cfg.timeout, self.cfg.memory_mb, sandbox.name, self.cfg.calibrate)
            if note:
                self.log(note)
            # Only a command that executes says where programs run (`report html`'s run summary).
            self.executes = bool(todo or pending)
            if self.executes:
                self.store.set_meta("environment", environment(sandbox))
            made_by = executor(sandbox)
            self.log(f"{len(todo)} samples to generate, {len(todo) + len(pending)} to execute "
                     f"({sandbox.name}, {sandbox.size} in flight)")
            pool = ThreadPoolExecutor(sandbox.size, thread_name_prefix="exec")
            gen_bar = progress(total=len(todo), desc="generating", unit="sample")
            exec_bar = progress(total=len(todo) + len(pending), desc="executing ", unit="sample")
            sems = {s.name: asyncio.Semaphore(s.concurrency) for s in self.specs}
            in_flight = asyncio.Semaphore(2 * sandbox.size)
            loop = asyncio.get_running_loop()

            lock = threading.Lock()  # executor threads add their time too

            def timed(stage: str, fn, *args):
                start = time.perf_counter()
                try:
                    return fn(*args)
                finally:
                    with lock:
                        self.timings[stage] += time.perf_counter() - start

            async def execute(key: SampleKey, program: str) -> None:
                async with in_flight:
                    req = self.request(key, program)
                    v: Verdict = await loop.run_in_executor(pool, timed, "execution", sandbox.execute, req)
                timed("storage", self.store.add_verdict, key, v, req.limits, made_by)
                exec_bar.update()

            async def one(spec: ModelSpec, task: Task) -> None:
                key = SampleKey(task.dataset, task.problem.id, spec.name, task.index)
                async with sems[spec.name]:
                    try:
                        start = time.perf_counter()
                        gen: Generation | None = await self.providers[spec.name].generate(task)
                        self.timings["generation"] += time.perf_counter() - start
                        error = None
                    except GenerationError as exc:
                        gen, error = None, str(exc)
                bench = get_benchmark(task.dataset)
                code, program = program_for(bench, task.problem, gen.completion, gen.code) if gen else (None, "")
                cost = spec.price.cost(gen.tokens_in, gen.tokens_out) if gen else 0.0
                timed("storage", self.store.add_generation, key, task.prompt, gen, code, program if gen else None, cost,
                      error)
                gen_bar.update()
                if gen is None:
                    exec_bar.update()
                    return
                await execute(key, program)

            jobs = [asyncio.ensure_future(execute(k, program)) for k, program in pending]
            jobs += [asyncio.ensure_future(one(s, t)) for s, t in todo]
            finished = False
            try:
                for fut in asyncio.as_completed(jobs):
                    await fut  # the first ProviderError stops the run
                finished = True
            finally:
                for j in jobs:
                    j.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)
                gen_bar.close()
                exec_bar.close()
                if not finished:
                    # Ctrl-C or an error: stop the programs still running rather than
                    # wait out their limits; their verdicts would not be stored anyway.
                    sandbox.close()
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            await asyncio.gather(*(p.close() for p in self.providers.values()), return_exceptions=True)


def run(cfg: RunConfig, log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Run (or resume) and return the summary; raises UserError/ProviderError for
    what the user must fix."""
    from sandboxes import get_sandbox

    specs = load_pool(cfg.pool)
    work = load_workloads(cfg)
    if cfg.n is not None:
        specs = [replace(s, params=replace(s.params, n=cfg.n)) for s in specs]
    store = open_store(cfg, specs)
    try:
        runner = Runner(cfg, specs, work, store, log)
        with get_sandbox(cfg.sandbox, cfg.workers, cfg.memory_mb) as sandbox:
            start = time.perf_counter()
            try:
                asyncio.run(runner.generate_and_execute(sandbox))
            except ProviderError as exc:
                if store.sample_counts():
                    raise ProviderError(f"{exc} ({stopped(store, cfg)})") from None
                raise
            runner.timings["wall"] = time.perf_counter() - start
            if runner.executes:  # again: with what happened on the way (lost actors)
                store.set_meta("environment", environment(sandbox))
        summary = summarize_run(store, {s.name: s.params.n for s in specs}, {w.dataset: set(w.problems) for w in work})
        if note := selection_note(summary):
            log(note)
        summary["seconds"] = {k: round(v, 3) for k, v in runner.timings.items()}
        served = {name: stats for name, p in runner.providers.items() if (stats := p.servers())}
        for name, stats in served.items():
            log(f"{name}: requests per server: " + ", ".join(
                f"{url} {s['requests']} ({s['failed']} failed)" for url, s in stats.items()))
        if served:
            summary["servers"] = served
        return summary
    except KeyboardInterrupt:  # the CLI prints it after "interrupted: "
        raise KeyboardInterrupt(stopped(store, cfg)) from None
    finally:
        store.close()

