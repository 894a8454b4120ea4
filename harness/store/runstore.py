"""The run store: one SQLite file (WAL) per run. A sample is committed when it is
generated and again when it is executed, so a crash, Ctrl-C or ``kill -9`` loses at
most the samples in flight, and a re-run picks up exactly where it stopped."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sandboxes import Limits, Status, Verdict

from ..errors import UserError

DB_NAME = "run.sqlite"
# 2: samples.program (the exact program run); 3: samples.stderr_tail; 4: the time limit's
# kind, wall-clock cap and which limit fired (timeout is a CPU budget since 4); 5: what made
# each verdict (sandbox, memory limit, slowest run's CPU time), the extractor version of
# each program, rescores, and the floor each calibrated budget had.
SCHEMA_VERSION = 5
READABLE = (2, 3, 4, 5)  # older stores read with the newer columns NULL; opening one to write upgrades it
UPGRADES = {3: ["ALTER TABLE samples ADD COLUMN stderr_tail TEXT"],
            4: ["ALTER TABLE samples ADD COLUMN limit_kind TEXT", "ALTER TABLE samples ADD COLUMN wall_cap REAL",
                "ALTER TABLE samples ADD COLUMN limit_fired TEXT",
                # Before 4, `timeout` was a wall-clock limit.
                "UPDATE samples SET limit_kind = 'wall' WHERE status IS NOT NULL"],
            5: [*(f"ALTER TABLE samples ADD COLUMN {c}" for c in (
                "max_cpu_time REAL", "memory_mb INTEGER", "sandbox TEXT", "sandbox_mode TEXT", "sandbox_image TEXT",
                "extractor_version TEXT", "rescore_id INTEGER", "prior_status TEXT")),
                "ALTER TABLE time_limits ADD COLUMN floor REAL",
                # One run (every assert-test program, a syntax error): its CPU time is the slowest run's.
                "UPDATE samples SET max_cpu_time = cpu_time WHERE status IS NOT NULL AND total_tests <= 1",
                # Only a source's `solution` (evalplus) stores code without a completion to extract from.
                "UPDATE samples SET extractor_version = 'source' WHERE completion = '' AND code != ''",
                "UPDATE time_limits SET floor = seconds WHERE how = 'default'"]}
TAIL_CHARS = 2000  # of a verdict's detail (its head) and stderr (its tail)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (name TEXT PRIMARY KEY, identity TEXT NOT NULL,
                                   price_in REAL NOT NULL, price_out REAL NOT NULL);
CREATE TABLE IF NOT EXISTS time_limits (dataset TEXT, problem TEXT, seconds REAL NOT NULL, how TEXT NOT NULL,
                                        floor REAL, PRIMARY KEY (dataset, problem));
CREATE TABLE IF NOT EXISTS samples (
    dataset TEXT NOT NULL, problem TEXT NOT NULL, model TEXT NOT NULL, sample INTEGER NOT NULL,
    prompt TEXT NOT NULL, completion TEXT, code TEXT, program TEXT, thinking TEXT,
    tokens_in INTEGER, tokens_out INTEGER, thinking_tokens INTEGER, latency REAL, cost REAL,
    recorded_passed INTEGER, generation_error TEXT, extra TEXT, generated_at REAL NOT NULL,
    status TEXT, passed INTEGER, passed_tests INTEGER, total_tests INTEGER, detail TEXT,
    wall_time REAL, cpu_time REAL, peak_memory_kb INTEGER, timeout REAL, executed_at REAL, stderr_tail TEXT,
    limit_kind TEXT, wall_cap REAL, limit_fired TEXT, max_cpu_time REAL, memory_mb INTEGER, sandbox TEXT,
    sandbox_mode TEXT, sandbox_image TEXT, extractor_version TEXT, rescore_id INTEGER, prior_status TEXT,
    PRIMARY KEY (dataset, problem, model, sample));
"""


def connect_readonly(run: str | Path) -> sqlite3.Connection:
    """A finished run's store for reading (matrix, reports), also from a read-only
    directory; one UserError for anything that is not a run store."""
    path = Path(run)
    db = path / DB_NAME if path.is_dir() else path
    if not db.is_file():
        raise UserError(f"{run}: not a run directory (no {DB_NAME})")
    try:
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            con.execute("SELECT 1 FROM samples LIMIT 1").fetchall()
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc):
                raise
            # A read-only folder: no -shm can be made; the file cannot change under us.
            con = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
            con.execute("SELECT 1 FROM samples LIMIT 1").fetchall()
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{db}: not a run store ({exc})") from None
    if row is None or json.loads(row[0]) not in READABLE:
        con.close()
        raise UserError(f"{db}: run store version {row and json.loads(row[0])}, this codeharness reads "
                        f"{_versions()}")
    return con


def _versions() -> str:
    return ", ".join(map(str, READABLE[:-1])) + f" and {READABLE[-1]}"


def limit_fired(v: Verdict) -> str | None:
    """Which time limit stopped the program: ``cpu`` (its tree's CPU budget), ``wall``
    (the wall-clock cap), or None."""
    if v.status is not Status.TIMEOUT:
        return None
    return "wall" if "wall-clock cap" in v.detail else "cpu"


def read_meta(run: str | Path, key: str, default=None):
    """A finished run's metadata entry ``key`` (``run``: its datasets, source and
    split...), ``default`` when the store has none."""
    con = connect_readonly(run)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    finally:
        con.close()
    return json.loads(row[0]) if row else default


# What made a verdict: the sandbox's kind (docker, local, ray), its mode (local's
# isolation; ray: its nodes' sandboxes) and its image (docker's).
Executor = tuple[str, str | None, str | None]


@dataclass(frozen=True)
class SampleKey:
    dataset: str
    problem: str
    model: str
    sample: int


class RunStore:
    def __init__(self, run_dir: str | Path, create: bool = True, lock: bool = False) -> None:
        """``lock``: hold the directory's run lock (``harness.store.lock``) until ``close``; a
        directory another run holds is refused (UserError naming its PID)."""
        self.dir = Path(run_dir)
        self.path = self.dir / DB_NAME
        self.lock = None
        if not self.path.exists() and not create:
            raise UserError(f"{self.dir}: not a run directory (no {DB_NAME})")
        try:
            if create:
                self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.dir}: cannot create the run directory ({exc.strerror or exc})") from None
        if lock:
            from .lock import RunLock

            self.lock = RunLock(self.dir)
        try:
            # isolation_level=None: we commit explicitly, one sample at a time.
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a committed sample survives the process being killed (only a
            # power cut can lose the last ones), without an fsync per sample.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=10000")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            if self.lock:
                self.lock.release()
            raise UserError(f"{self.path}: cannot open the run store ({exc})") from None
        version = self.get_meta("schema_version")
        if version in READABLE and version != SCHEMA_VERSION:  # columns added since: NULL for older samples
            with self.db:
                self.db.execute("BEGIN")
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for sql in UPGRADES[step]:
                        self.db.execute(sql)
                self.set_meta("schema_version", SCHEMA_VERSION)
        elif version is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            self.close()
            raise UserError(f"{self.path}: run store version {version}, this codeharness reads {_versions()}")

    def close(self) -> None:
        # Back to a rollback journal: a finished run is one file again (no -wal/-shm
        # beside it), and read-only readers need not create them. Refused, harmlessly,
        # while another connection has it open.
        try:
            self.db.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error:
            pass
        self.db.close()
        if self.lock:
            self.lock.release()

    # ---- run metadata
    def get_meta(self, key: str):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def models(self) -> dict[str, dict]:
        return {name: {"identity": json.loads(ident), "price": (pin, pout)}
                for name, ident, pin, pout in self.db.execute("SELECT * FROM models")}

    def set_model(self, name: str, identity: dict, price_in: float, price_out: float) -> bool:
        """Record a model (its row keeps its place: the matrix's column order). A new
        price recomputes the cost of its stored samples; returns whether it did."""
        old = self.db.execute("SELECT price_in, price_out FROM models WHERE name=?", (name,)).fetchone()
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO models VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                            "identity=excluded.identity, price_in=excluded.price_in, price_out=excluded.price_out",
                            (name, json.dumps(identity, sort_keys=True), price_in, price_out))
            if old is None or old == (price_in, price_out):
                return False
            self.db.execute("UPDATE samples SET cost = (coalesce(tokens_in, 0) * ? + coalesce(tokens_out, 0) * ?) "
                            "/ 1e6 WHERE model=? AND generation_error IS NULL", (price_in, price_out, name))
            return True

    def sample_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT model, count(*) FROM samples GROUP BY model"))

    def reset(self) -> None:
        """Forget the run (``--fresh``), and the matrix files exported from it."""
        with self.db:
            self.db.execute("BEGIN")
            for table in ("samples", "time_limits", "models"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("DELETE FROM meta WHERE key != 'schema_version'")
        for old in self.dir.glob("*_matrix.*"):
            old.unlink()
        for old in self.dir.glob("samples.*"):
            old.unlink()

    def time_limits(self, dataset: str) -> dict[str, float]:
        return dict(self.db.execute("SELECT problem, seconds FROM time_limits WHERE dataset=?", (dataset,)))

    def set_time_limits(self, dataset: str, limits: dict[str, tuple[float, str]], floor: float) -> None:
        """``floor``: the --timeout these budgets were calibrated with."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO time_limits VALUES (?, ?, ?, ?, ?)",
                                [(dataset, p, s, how, floor) for p, (s, how) in limits.items()])

    def drop_time_limits(self, dataset: str, keep_floor: float) -> None:
        """Forget the budgets not calibrated with ``keep_floor`` (so they are calibrated again)."""
        self.db.execute("DELETE FROM time_limits WHERE dataset=? AND (floor IS NULL OR floor != ?)",
                        (dataset, keep_floor))

    # ---- samples
    def progress(self) -> tuple[set[SampleKey], set[SampleKey]]:
        """(generated, executed) keys: what a resumed run must not redo."""
        generated, executed = set(), set()
        for d, p, m, s, status, err in self.db.execute(
                "SELECT dataset, problem, model, sample, status, generation_error FROM samples"):
            key = SampleKey(d, p, m, s)
            generated.add(key)
            if err is not None or status not in (None, "sandbox_error"):
                executed.add(key)
        return generated, executed

    def add_generation(self, key: SampleKey, prompt: str, gen, code: str | None, program: str | None, cost: float,
                       error: str | None = None) -> None:
        """``code``: what extraction found; ``program``: what runs (e.g. the prompt +
        a completion-style continuation), stored so a resume runs exactly it, with the
        extractor version that made it (``source``: the source gave the code)."""
        from benchmarks.extract import EXTRACTOR_VERSION

        extractor = None if gen is None else "source" if gen.code is not None else EXTRACTOR_VERSION
        self.db.execute(
            "INSERT OR REPLACE INTO samples (dataset, problem, model, sample, prompt, completion, code, program, "
            "thinking, tokens_in, tokens_out, thinking_tokens, latency, cost, recorded_passed, generation_error, "
            "extra, generated_at, status, extractor_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (key.dataset, key.problem, key.model, key.sample, prompt,
             gen.completion if gen else None, code, program, gen.thinking if gen else None,
             gen.tokens_in if gen else None, gen.tokens_out if gen else None, gen.thinking_tokens if gen else None,
             gen.latency if gen else None, cost,
             None if gen is None or gen.recorded_passed is None else int(gen.recorded_passed),
             error, json.dumps(gen.extra) if gen and gen.extra else None, time.time(),
             "generation_error" if error else None, extractor))

    def pending_execution(self) -> list[tuple[SampleKey, str]]:
        """Samples generated but not executed (the run stopped between the two), and
        those whose execution hit a harness failure (``sandbox_error``)."""
        return [(SampleKey(d, p, m, s), program) for d, p, m, s, program in self.db.execute(
            "SELECT dataset, problem, model, sample, program FROM samples WHERE generation_error IS NULL "
            "AND (status IS NULL OR status = 'sandbox_error')")]

    def add_verdict(self, key: SampleKey, v: Verdict, limits: Limits, sandbox: Executor | None = None,
                    rescore: int | None = None, extracted: tuple[str, str, str] | None = None) -> None:
        """``sandbox``: what made the verdict. ``rescore``: the rescore making it (the
        status it replaces is kept as ``prior_status``); ``extracted``: the (code,
        program, extractor version) it re-extracted."""
        fields = {"status": v.status.value, "passed": int(v.passed), "passed_tests": v.passed_tests,
                  "total_tests": v.total_tests, "detail": v.detail[:TAIL_CHARS], "wall_time": v.wall_time,
                  "cpu_time": v.cpu_time, "max_cpu_time": v.max_cpu_time, "peak_memory_kb": v.peak_memory_kb,
                  "timeout": limits.timeout, "memory_mb": limits.memory_mb, "executed_at": time.time(),
                  "stderr_tail": v.stderr_tail[-TAIL_CHARS:] or None, "limit_kind": "cpu", "wall_cap": limits.wall_cap,
                  "limit_fired": limit_fired(v), **dict(zip(("sandbox", "sandbox_mode", "sandbox_image"),
                                                            sandbox or (None, None, None), strict=True))}
        if extracted:
            fields.update(zip(("code", "program", "extractor_version"), extracted, strict=True))
        if rescore is not None:
            fields["rescore_id"] = rescore
        # SQLite evaluates every SET from the row as it was: prior_status gets the old status.
        prior = ", prior_status=status" if rescore is not None else ""
        self.db.execute(f"UPDATE samples SET {', '.join(f'{c}=?' for c in fields)}{prior} "
                        "WHERE dataset=? AND problem=? AND model=? AND sample=?",
                        (*fields.values(), key.dataset, key.problem, key.model, key.sample))

    # ---- rescores (``harness rescore``)
    def rescore_targets(self, rescore: int) -> list[tuple]:
        """The stored generations ``rescore`` has not executed yet: (key, completion,
        program, extractor version, memory limit of the verdict it replaces)."""
        return [(SampleKey(*row[:4]), *row[4:]) for row in self.db.execute(
            "SELECT dataset, problem, model, sample, completion, program, extractor_version, memory_mb FROM samples "
            "WHERE generation_error IS NULL AND program IS NOT NULL AND rescore_id IS NOT ? "
            "ORDER BY dataset, problem, model, sample", (rescore,))]

    def transitions(self, rescore: int) -> dict[tuple[str, str], int]:
        """(status before, status after) -> samples, over what ``rescore`` executed."""
        return {(old or "not executed", new): n for old, new, n in self.db.execute(
            "SELECT prior_status, status, count(*) FROM samples WHERE rescore_id = ? GROUP BY 1, 2", (rescore,))}
