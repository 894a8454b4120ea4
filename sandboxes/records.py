"""Records that cross the sandbox boundary: what to run, and what happened."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum


class Status(str, Enum):
    """Outcome of one program. ``SANDBOX_ERROR`` blames the harness, never the candidate."""

    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    RUNTIME_ERROR = "runtime_error"
    OOM = "oom"
    OUTPUT_LIMIT = "output_limit"
    SYNTAX_ERROR = "syntax_error"
    SANDBOX_ERROR = "sandbox_error"


MAX_TIMEOUT = 86400.0  # a day; beyond it timers overflow
# A program that sleeps or blocks uses no CPU: the wall clock stops it at this multiple
# of its CPU budget, plus a second (for start-up and tiny budgets). Time its processes
# spent waiting for a CPU (other jobs, more workers than cores) does not count toward
# the cap, so a starved CPU-bound program meets its CPU budget first; the plain wall
# clock stops everything at WALL_CEILING_FACTOR x the cap whatever the load.
WALL_FACTOR = 3.0
WALL_EXTRA_S = 1.0
WALL_CEILING_FACTOR = 10.0
MIN_MEMORY_MB = 32  # below this the forked interpreter itself cannot run


# A request refused unrun because it could not start within ``ExecRequest.start_within``,
# or its caller's deadline (``Limits.ceiling``, counted from the call) would cut its
# program short; the fork server says the same (its own copy:
# it imports nothing of ours).
NOT_STARTED = "not started in time for its caller's deadline"
START_SLACK = 0.05  # seconds a request may lose before its start unrefused


@dataclass(frozen=True)
class Limits:
    """Per-program resource limits, applied in the forked child."""

    timeout: float = 10.0  # CPU seconds of the program's whole process tree
    memory_mb: int = 1024  # RLIMIT_AS
    max_output_bytes: int = 32 * 2**20  # stdout + stderr; beyond it: output_limit
    max_file_bytes: int = 64 * 2**20  # RLIMIT_FSIZE; beyond it: output_limit
    max_processes: int = 64  # RLIMIT_NPROC, counted for the sandbox uid
    # Callers with their own clock (a service whose clients time out) set these; None:
    # derived from ``timeout`` as below.
    wall: float | None = None  # the wall-clock cap, less time spent waiting for a CPU
    ceiling: float | None = None  # the plain wall-clock ceiling

    def __post_init__(self) -> None:
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT}] seconds, got {self.timeout}")
        if self.memory_mb < MIN_MEMORY_MB:
            raise ValueError(f"memory_mb must be >= {MIN_MEMORY_MB}, got {self.memory_mb}")
        for name in ("wall", "ceiling"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= MAX_TIMEOUT * WALL_CEILING_FACTOR:
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")

    @property
    def wall_cap(self) -> float:
        """Wall-clock seconds, less the time spent waiting for a CPU, after which the
        program is stopped whatever its CPU use."""
        return self.wall if self.wall is not None else WALL_FACTOR * self.timeout + WALL_EXTRA_S

    @property
    def wall_ceiling(self) -> float:
        """Plain wall-clock seconds after which the program is stopped, however loaded
        the machine: no worker is held longer."""
        return self.ceiling if self.ceiling is not None else WALL_CEILING_FACTOR * self.wall_cap

    def to_wire(self) -> dict:
        # Unset optional fields stay off the wire: cached verdicts are keyed by it. Not
        # dataclasses.asdict: its deep copy is most of the host's CPU per request here.
        wire = {k: v for k in _LIMITS_FIELDS if (v := getattr(self, k)) is not None}
        return {**wire, "wall_cap": self.wall_cap, "wall_ceiling": self.wall_ceiling}


@dataclass(frozen=True)
class IOCase:
    stdin: str
    expected: str


@dataclass(frozen=True)
class ExecRequest:
    """One candidate program and how to judge it.

    * ``test``: test code run after the program, in its namespace; passes only when the
      test code ran to its end in the same process, so exiting early or crashing the
      tests never counts as a pass.
    * ``cases``: the program runs as a script once per case, in a fresh process, with
      the case's stdin; its stdout is judged against the expected one (rules in
      ``sandboxes.judge``). Stops at the first failing case unless ``all_cases``.
    * neither: the program runs as a script and passes when it exits with status 0.
    ``limits`` apply to each run (each case).
    """

    code: str
    test: str | None = None
    stdin: str = ""
    limits: Limits = field(default_factory=Limits)
    id: str = ""
    cases: tuple[IOCase, ...] | None = None
    case_sensitive: bool = True
    float_tol: float = 1e-6
    strict_integers: bool = False
    all_cases: bool = False
    # For a service that answers with what the program did (``harness serve``); the
    # defaults keep them off the wire.
    keep_output: bool = False  # whole stdout/stderr (up to the output cap), not tails
    files: tuple[tuple[str, str], ...] = ()  # (path in the work dir, base64) written before
    fetch_files: tuple[str, ...] = ()  # work-dir files returned (base64) after the run
    case_results: bool = False  # each case's status, not only the first failure
    # Seconds from the call to ``execute`` within which the program must start, else it
    # is answered unrun (``NOT_STARTED``): a service's wait for a worker, bounded.
    start_within: float | None = None

    def __post_init__(self) -> None:
        if self.test is not None and self.cases is not None:
            raise ValueError("an ExecRequest has test code or stdin/stdout cases, not both")

    def to_wire(self) -> dict:
        wire = {
            "id": self.id,
            "code": self.code,
            "test": self.test,
            "stdin": self.stdin,
            "limits": self.limits.to_wire(),
        }
        for name in ("keep_output", "files", "fetch_files", "case_results"):
            if getattr(self, name):
                wire[name] = getattr(self, name)
        if self.start_within is not None:
            wire["start_within"] = self.start_within
        if self.cases is not None:
            wire["cases"] = [{"stdin": c.stdin, "expected": c.expected} for c in self.cases]
            wire["compare"] = {"case_sensitive": self.case_sensitive, "float_tol": self.float_tol,
                               "strict_integers": self.strict_integers}
            wire["all_cases"] = self.all_cases
        return wire


@dataclass(frozen=True)
class Verdict:
    status: Status
    detail: str = ""
    exit_code: int | None = None
    signal: int | None = None
    wall_time: float = 0.0
    cpu_time: float = 0.0  # summed over the runs (the cases of a stdin/stdout problem)
    max_cpu_time: float = 0.0  # of the run that took most: what a per-run budget must cover
    peak_memory_kb: int = 0
    stdout_tail: str = ""
    stderr_tail: str = ""
    passed_tests: int = 0
    total_tests: int = 0
    failing_test: int | None = None
    id: str = ""
    attempts: int = 1
    # Only for requests that asked (``keep_output``, ``fetch_files``, ``case_results``).
    stdout: str | None = None
    stderr: str | None = None
    files: dict[str, str] | None = None
    cases: list[dict] | None = None

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @classmethod
    def from_wire(cls, data: dict, **fields) -> Verdict:
        """The verdict ``data`` describes (unknown keys ignored), with ``fields`` set over it."""
        kwargs = {k: v for k, v in data.items() if k in _VERDICT_FIELDS}
        kwargs["status"] = Status(kwargs["status"])
        kwargs.update(fields)
        return cls(**kwargs)

    def to_dict(self) -> dict:
        out = {k: v for k, v in dataclasses.asdict(self).items()
               if v is not None or k not in _ON_REQUEST}
        out["status"] = self.status.value
        return out


_ON_REQUEST = ("stdout", "stderr", "files", "cases")
_VERDICT_FIELDS = frozenset(f.name for f in dataclasses.fields(Verdict))

_LIMITS_FIELDS = tuple(f.name for f in dataclasses.fields(Limits))
