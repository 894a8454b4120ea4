"""``harness serve`` against the in-process path, the way RL trainers call it.

* ``humaneval``: 984 programs (164 problems x 6: the canonical solution and 5 wrong
  bodies), each a whole program (prompt + completion + test + ``check(entry_point)``)
  in one ``POST /run_code``, ``--in-flight`` at once from threads with ``requests``,
  as verl's reward function sends them (it retries 504 only; so does this client)
  to a real ``python -m harness serve`` subprocess; against the same programs through
  what ``python -m harness evaluate`` does in-process (``exec_request`` +
  ``sandbox.run``, same sandbox kind, same workers). Programs/s of each, the ratio
  (goal >= 0.8) and verdict agreement (``Success`` <-> passed). With
  ``--sandbox-fusion URL``: the same requests against that SandboxFusion server.
* ``codecontests``: one program per CodeContests test66 problem (test66 bundles no
  references: the first stored program of ``--run-dir`` that passes here), every
  case run: one ``/run_tests`` per problem against one ``/run_code`` per case, judged
  client-side as verl judges (stdout.rstrip("\\n") == expected.rstrip("\\n")).

Both sides of each comparison are measured in the same run, warm (start-up left
out); HumanEval's best of ``--repeat`` alternated rounds (a shared machine's load
moves between them). Prints one JSON object; asserts nothing about time.

    python perf/serve_throughput.py [--sandbox docker,local] [--workers N] [--in-flight 64]
        [--sandbox-fusion http://127.0.0.1:8080] [--repeat 3] [--run-dir results/<run>] [--cc-problems N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import get_benchmark  # noqa: E402
from benchmarks.requests import exec_request  # noqa: E402
from sandboxes import Limits, get_sandbox  # noqa: E402

# Fail in every engine (wrong answer, exception, syntax error): no time-outs, whose
# wall time is the same everywhere and would hide the per-program cost.
WRONG = ("    return None\n", "    raise ValueError('nope')\n", "    return [][1]\n", "    return (\n",
         "    return undefined_name\n")
MEMORY_MB = 1024  # verl's default memory_limit_mb
RETRIES = 3  # verl's MAX_RETRIES, on 504 only
DEFAULT_RUN = "results/humaneval+leetcode+codecontests__adaptivellm-pool"


def humaneval_programs() -> list[tuple]:
    """(problem, program) x 984: the canonical solution first, then the wrong ones."""
    bench = get_benchmark("humaneval")
    return [(p, bench.program(p, completion=body))
            for p in bench.load() for body in (p.references[0][len(p.prompt):], *WRONG)]


def codecontests_programs(run_dir: Path, limit: int | None) -> list[tuple]:
    """(problem, program): per test66 problem, the first stored program that passed here."""
    problems = {p.id: p for p in get_benchmark("codecontests").load("test66")}
    with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT problem, program FROM samples WHERE dataset = 'codecontests' AND status = 'passed' "
                           "ORDER BY problem, model, sample").fetchall()
    first: dict[str, str] = {}
    for pid, program in rows:
        if pid in problems:
            first.setdefault(pid, program)
    return [(problems[pid], program) for pid, program in sorted(first.items())][:limit]


# ------------------------------------------------------------------ engines

def in_process(kind: str, workers: int, reqs) -> tuple[list, float, float]:
    """Verdicts in request order, wall seconds and this process's CPU seconds (the
    host's side of ``evaluate``'s path), sandbox warm."""
    with get_sandbox(kind, workers, MEMORY_MB) as sandbox:
        start, cpu = time.perf_counter(), time.process_time()
        verdicts = {v.id: v for v in sandbox.run(reqs)}
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return [verdicts[r.id] for r in reqs], seconds, cpu


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(kind: str, workers: int):
    """A real ``python -m harness serve`` on a free port; its URL and pid once it accepts."""
    argv = [sys.executable, "-m", "harness", "serve", "--sandbox", kind, "--workers", str(workers), "--port", "0",
            # /run_tests requests of ~200 cases hold a lane for seconds: let them queue.
            "--max-wait", "600"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the announce line, printed once the port accepts
        if not line.startswith("codeharness serve: http"):
            raise SystemExit(f"serve did not start (exit {proc.wait()}): {line!r}")
        yield line.split()[2], proc.pid
    finally:
        proc.send_signal(2)  # SIGINT: the graceful stop
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Client:
    """verl's calling pattern: a fresh ``requests.post`` per call, 504 retried after
    Retry-After, at most RETRIES attempts."""

    def __init__(self, url: str, in_flight: int) -> None:
        self.url = url.rstrip("/")
        self.in_flight = in_flight
        self.retried = 0
        self.errors = 0
        self.client_cpu = 0.0
        self._lock = threading.Lock()

    def post(self, path: str, payload: dict, timeout: float) -> dict | None:
        for _ in range(RETRIES):
            try:
                resp = requests.post(self.url + path, json=payload, timeout=timeout)
            except requests.RequestException:
                break
            if resp.status_code == 504:
                with self._lock:
                    self.retried += 1
                time.sleep(float(resp.headers.get("Retry-After", 1)))
                continue
            if resp.ok:
                return resp.json()
            break
        with self._lock:
            self.errors += 1
        return None

    def many(self, path: str, payloads: list[dict], timeout: float) -> tuple[list, float]:
        """Answers in order and wall seconds; ``client_cpu``: this process's CPU seconds
        meanwhile (the client shares the machine's cores with the server)."""
        start, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(self.in_flight) as ex:
            answers = list(ex.map(lambda p: self.post(path, p, timeout), payloads))
        self.client_cpu = round(time.process_time() - cpu, 2)
        return answers, time.perf_counter() - start

    def figures(self) -> dict:
        return {"retried_504": self.retried, "errors": self.errors, "client_cpu_s": self.client_cpu}


class LeanClient(Client):
    """The same calls (a new connection per call, 504 retried after Retry-After) from one
    asyncio loop over raw sockets, the requests encoded before the clock starts and the
    answers decoded after it stops: ~0.2 ms of CPU per call where ``requests`` in
    threads takes ~1.4 ms. A trainer's client runs on the trainer's machine; on this
    one it shares the service's cores, so its cost is kept out of the service's
    figure here and shown with ``Client`` beside it."""

    def many(self, path: str, payloads: list[dict], timeout: float) -> tuple[list, float]:
        netloc = urlsplit(self.url).netloc
        requests_ = []
        for payload in payloads:
            body = json.dumps(payload).encode()
            requests_.append((f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\nContent-Type: application/json\r\n"
                              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
        start, cpu = time.perf_counter(), time.process_time()
        raw = uvloop.run(self._many(requests_, timeout))
        self.client_cpu = round(time.process_time() - cpu, 2)
        seconds = time.perf_counter() - start
        return [None if data is None else json.loads(data) for data in raw], seconds

    async def _many(self, requests_: list[bytes], timeout: float) -> list:
        url = urlsplit(self.url)
        slots = asyncio.Semaphore(self.in_flight)

        async def one(request: bytes):
            async with slots:
                for _ in range(RETRIES):
                    try:
                        async with asyncio.timeout(timeout):
                            status, headers, data = await self._exchange(url, request)
                    except (OSError, TimeoutError, ValueError):
                        break
                    if status == 504:
                        self.retried += 1
                        await asyncio.sleep(float(headers.get("retry-after", 1)))
                        continue
                    if status == 200:
                        return data
                    break
            self.errors += 1
            return None

        return list(await asyncio.gather(*(one(r) for r in requests_)))

    @staticmethod
    async def _exchange(url, request: bytes) -> tuple[int, dict, bytes]:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        await loop.create_connection(lambda: _Exchange(request, done), url.hostname, url.port)
        raw = await done  # Connection: close: the answer ends at EOF
        head, _, data = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        return int(status_line.split()[1]), headers, data


class _Exchange(asyncio.Protocol):
    """One request written on connect; the bytes up to EOF."""

    def __init__(self, request: bytes, done: asyncio.Future) -> None:
        self.request, self.done, self.chunks = request, done, []

    def connection_made(self, transport) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(b"".join(self.chunks)) if exc is None else self.done.set_exception(exc)


def run_code_payload(code: str, stdin: str, run_timeout: float) -> dict:
    """What verl's ``call_sandbox_api`` sends."""
    return {"compile_timeout": run_timeout, "run_timeout": run_timeout, "code": code, "stdin": stdin,
            "memory_limit_MB": MEMORY_MB, "language": "python", "files": {}, "fetch_files": []}


def rate(n: int, seconds: float) -> dict:
    return {"seconds": round(seconds, 3), "per_s": round(n / seconds, 1)}


# ------------------------------------------------------------------ HumanEval

def humaneval(kind: str, args, items, payloads) -> tuple[dict, list[bool]]:
    """The figures (each side's best of ``--repeat`` rounds, alternated so that a change
    of the machine's load hits all three), and the in-process verdicts in program order.
    ``ratio``: the service with a lean client (``LeanClient``); ``ratio_requests_client``:
    with verl's own way of calling (``Client``), whose CPU this machine's cores also pay."""
    limits = Limits(timeout=args.run_timeout, memory_mb=MEMORY_MB)
    reqs = [exec_request(p, program, limits, id=str(i)) for i, (p, program) in enumerate(items)]
    rounds = []
    with server(kind, args.workers) as (url, pid):
        for _ in range(args.repeat):
            verdicts, secs, cpu = in_process(kind, args.workers, reqs)
            ours = [v.passed for v in verdicts]
            rounds.append((secs, *(over_http(client(url, args.in_flight), payloads, args.run_timeout, ours, items,
                                             pid) for client in (LeanClient, Client)), cpu))
    secs, cpu = min((r[0], r[3]) for r in rounds)
    lean, threads = (min((r[i] for r in rounds), key=lambda s: s["seconds"]) for i in (1, 2))
    out = {"evaluate": {**rate(len(items), secs), "passed": sum(ours),
                        "host_cpu_ms_per_program": round(1000 * cpu / len(items), 3)},
           "serve_run_code": lean,
           "serve_run_code_requests_client": threads, "ratio": round(secs / lean["seconds"], 3),
           "ratio_requests_client": round(secs / threads["seconds"], 3),
           "rounds_s": [(round(e, 2), lean_s["seconds"], threads_s["seconds"]) for e, lean_s, threads_s, _ in rounds]}
    return out, ours


def over_http(client: Client, payloads, run_timeout: float, reference: list[bool], items,
              pid: int | None = None) -> dict:
    """``/run_code`` per payload; agreement of ``Success`` with ``reference``; the CPU
    the service process (``pid``: HTTP, admission and the pool's host side; not the
    programs) spent per request meanwhile, when it runs here."""
    cpu = process_cpu(pid) if pid else 0.0
    answers, secs = client.many("/run_code", payloads, 2 * run_timeout + 10)  # verl's request timeout
    server_cpu = {"server_cpu_ms_per_request": round(1000 * (process_cpu(pid) - cpu) / len(payloads), 3)} if pid else {}
    success = [a is not None and a["status"] == "Success" for a in answers]
    return {**rate(len(payloads), secs), "passed": sum(success),
            "statuses": _histogram([a["status"] if a else "no answer" for a in answers]),
            "agreement": sum(a == b for a, b in zip(success, reference, strict=True)),
            "disagreements": [(items[i][0].id, i % 6) for i in range(len(items)) if success[i] != reference[i]][:10],
            **server_cpu, **client.figures()}


# ------------------------------------------------------------------ CodeContests

def codecontests(kind: str, args, items) -> dict:
    with server(kind, args.workers) as (url, _):
        tests_payloads = [{"code": program, "cases": [{"stdin": i, "expected": o} for i, o in p.tests.cases],
                           "run_timeout": args.run_timeout, "memory_limit_MB": MEMORY_MB, "all_cases": True,
                           "case_sensitive": p.tests.case_sensitive} for p, program in items]
        client = Client(url, args.in_flight)
        answers, tests_secs = client.many("/run_tests", tests_payloads, 3600)
        by_tests = [bool(c and c["passed"]) for a, pl in zip(answers, tests_payloads, strict=True)
                    for c in (a["cases"] if a else [None] * len(pl["cases"]))]
        cases = [(program, i, o) for p, program in items for i, o in p.tests.cases]
        per_case = Client(url, args.in_flight)
        got, case_secs = per_case.many("/run_code", [run_code_payload(prog, i, args.run_timeout)
                                                     for prog, i, _ in cases], 2 * args.run_timeout + 10)
    by_code = [a is not None and a["status"] == "Success" and (a["run_result"]["stdout"] or "").rstrip("\n")
               == o.rstrip("\n") for a, (_, _, o) in zip(got, cases, strict=True)]
    return {
        "run_tests": {"requests": len(items), **rate(len(cases), tests_secs), "cases_passed": sum(by_tests),
                      **client.figures()},
        "run_code_per_case": {"requests": len(cases), **rate(len(cases), case_secs), "cases_passed": sum(by_code),
                              **per_case.figures()},
        "speedup": round(case_secs / tests_secs, 2),
        "case_agreement": sum(a == b for a, b in zip(by_tests, by_code, strict=True)),
    }


def _histogram(values) -> dict:
    return {k: values.count(k) for k in sorted(set(values))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox", default="docker,local", help="sandbox kinds, comma-separated")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--in-flight", type=int, default=64, help="requests at once (verl: 64 to 256)")
    parser.add_argument("--run-timeout", type=float, default=10.0, help="seconds (verl's default 10)")
    parser.add_argument("--sandbox-fusion", metavar="URL", help="a SandboxFusion server to send the HumanEval "
                        "requests to as well")
    parser.add_argument("--run-dir", type=Path, default=ROOT / DEFAULT_RUN,
                        help="a run with CodeContests programs (the README's replay job); absent: part skipped")
    parser.add_argument("--repeat", type=int, default=3, help="HumanEval rounds per engine; the best counts "
                        "(CodeContests: one round)")
    parser.add_argument("--cc-problems", type=int, help="at most this many CodeContests problems")
    args = parser.parse_args()
    kinds = [k for k in args.sandbox.split(",") if k]
    if not kinds:
        parser.error("--sandbox: name at least one sandbox kind")
    report: dict = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
                    "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
                    "workers": args.workers, "in_flight": args.in_flight, "run_timeout": args.run_timeout,
                    "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    items = humaneval_programs()
    payloads = [run_code_payload(program + "\n\n" + p.tests.code, "", args.run_timeout) for p, program in items]
    he: dict = {"programs": len(items), "canonical": len(items) // 6}
    for kind in kinds:
        he[kind], ours = humaneval(kind, args, items, payloads)
    if args.sandbox_fusion:  # agreement with the last kind's in-process verdicts
        sf = min((over_http(Client(args.sandbox_fusion, args.in_flight), payloads, args.run_timeout, ours, items)
                  for _ in range(args.repeat)), key=lambda s: s["seconds"])
        sf["ratio_vs_evaluate"] = {k: round(he[k]["evaluate"]["seconds"] / sf["seconds"], 3) for k in kinds}
        he["sandbox_fusion"] = sf
    report["humaneval"] = he
    if (args.run_dir / "run.sqlite").is_file():
        cc_items = codecontests_programs(args.run_dir, args.cc_problems)
        cc: dict = {"problems": len(cc_items), "cases": sum(len(p.tests.cases) for p, _ in cc_items)}
        for kind in kinds:
            cc[kind] = codecontests(kind, args, cc_items)
        report["codecontests"] = cc
    else:
        report["codecontests"] = f"skipped: no {args.run_dir / 'run.sqlite'}"
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
