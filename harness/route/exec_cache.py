"""Verdicts of executions cached by content, so that ``route compare``, ``route eval``
and the gate do not run the same programs on the same tests again on every call (the
cascade executes thousands of public-test runs per call; all but the first are the
same). The key hashes everything the verdict depends on: the request as the sandbox
receives it (program, test code or stdin/stdout cases and their comparison rules,
limits) and the sandbox's ``identity()`` (Docker: the image's id, so a rebuilt image
re-executes; local: its isolation mode and the interpreter's version). A changed
program or test is a new key, so it executes. Sandbox errors are never stored: they
are the harness failing, not a verdict.

One SQLite file, ``$CODEHARNESS_CACHE/exec.sqlite`` (default
``~/.cache/codeharness/exec.sqlite``); delete it to start over."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path

from routers.data import Execution, RouterData
from sandboxes import ExecRequest, Status, Verdict, sandbox_class


def cache_dir() -> Path:
    return Path(os.environ.get("CODEHARNESS_CACHE") or Path.home() / ".cache" / "codeharness")


class ExecCache:
    """key -> verdict, in one SQLite file (WAL: several commands may share it)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else cache_dir() / "exec.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT NOT NULL)")

    def get(self, keys: list[str]) -> dict[str, Verdict]:
        out = {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start:start + 500]
            rows = self.con.execute(f"SELECT key, verdict FROM verdicts WHERE key IN ({','.join('?' * len(chunk))})",
                                    chunk)
            out.update({k: Verdict.from_wire(json.loads(v)) for k, v in rows})
        return out

    def put(self, items: dict[str, Verdict]) -> None:
        with self.con:
            self.con.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?)",
                                 [(k, json.dumps({**v.to_dict(), "id": ""})) for k, v in items.items()])

    def close(self) -> None:
        self.con.close()


def request_key(identity: str, req: ExecRequest) -> str:
    wire = {**req.to_wire(), "id": ""}  # the id only matches verdicts to requests
    return hashlib.sha256(json.dumps([identity, wire], sort_keys=True).encode()).hexdigest()


class CachedSandbox:
    """A sandbox's ``map`` through the cache: cached verdicts are returned, the others
    executed (the sandbox is started only when something misses) and stored.
    ``executed`` counts what really ran."""

    def __init__(self, open_sandbox: Callable, identity: str, cache: ExecCache) -> None:
        self.open_sandbox, self.identity, self.cache = open_sandbox, identity, cache
        self.sandbox = None
        self.executed = 0

    def __enter__(self) -> CachedSandbox:
        return self

    def __exit__(self, *exc) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
        self.cache.close()

    def map(self, requests: Iterable[ExecRequest]) -> list[Verdict]:
        reqs = list(requests)
        keys = [request_key(self.identity, r) for r in reqs]
        found = self.cache.get(sorted(set(keys)))
        missing = {k: r for k, r in zip(keys, reqs, strict=True) if k not in found}
        if missing:
            if self.sandbox is None:
                self.sandbox = self.open_sandbox().start()
            ran = dict(zip(missing, self.sandbox.map(missing.values()), strict=True))
            self.executed += len(ran)
            self.cache.put({k: v for k, v in ran.items() if v.status is not Status.SANDBOX_ERROR})
            found = {**found, **ran}
        return [replace(found[k], id=r.id) for k, r in zip(keys, reqs, strict=True)]


def cached_sandbox(name: str | None = None, workers: int | None = None, default: str | None = None) -> CachedSandbox:
    """``Execution.sandbox`` with the cache in front: the sandbox ``name`` built from
    ``workers``, opened on the first miss; without a ``name`` (a router that names none), ``default``
    (the command's ``--sandbox``), else docker if ready, else local."""
    cls = sandbox_class(name or default)
    return CachedSandbox(lambda: cls.from_options(workers=workers), cls.identity(), ExecCache())


def with_cache(data: RouterData, default: str | None = None) -> RouterData:
    """The data with its executions going through the cache, in sandbox ``default``
    unless a router names its own."""
    if data.execution is None:
        return data
    return replace(data, execution=Execution(data.execution.load, partial(cached_sandbox, default=default)))
