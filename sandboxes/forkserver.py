"""Fork server: runs inside the isolation boundary (container or local namespace).

Standard library only: this file is sent as ``python3 -c`` source into a bare image,
so it cannot import the rest of the package. The host writes one JSON request per
line on stdin and reads one JSON verdict per line on stdout (see ``protocol``).

Each program runs in a fresh forked child of this warm interpreter (~1 ms instead of
~100 ms for a new ``python3``): own session/process group, fresh private temp dir,
RLIMIT_AS/CPU/FSIZE/NPROC, stdio on pipes with a byte cap, wall-clock deadline
enforced from outside with SIGKILL. Afterwards every process it left behind is killed.

When this server is PID 1 of its namespace (Docker, bwrap ``--as-pid-1``) the kernel
drops SIGKILL/SIGTERM sent to it from inside the namespace, so a program that "kills
its parent" cannot take the server down; the server also marks itself non-dumpable so
a same-uid child cannot ptrace it or open its /proc fds.
"""

import base64
import gc
import json
import os
import signal
import socket
import sys
import tempfile
import time

try:  # imported with their package (host side, tests)
    from . import forkchild, forkreap, forkwatch, judge, namespaces
except ImportError:  # inside the sandbox: the bootstrap loaded them first
    import forkchild
    import forkreap
    import forkwatch
    import judge
    import namespaces

WORKDIR = "work"  # under --tmp; created empty for each program, removed after it
# The detail of a request refused unrun: it waited here past its ``start_within``, or its
# caller's deadline (``limits.ceiling``, counted from its arrival) would leave the program
# less than its own wall-clock cap (the same as records.NOT_STARTED, START_SLACK).
NOT_STARTED = "not started in time for its caller's deadline"
START_SLACK = 0.05  # seconds a request may lose between its arrival and its start unrefused


class Inbox:
    """Request lines from the host, each with the time it arrived. The host may send the
    next request while one runs, to have it start at once: ``watch`` pulls it in then."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.lines = []  # [(line, arrived)]
        self.eof = False

    def pull(self):
        """What is readable now (call when the fd is readable, or to block); False at EOF."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        now = time.monotonic()
        while (end := self.buf.find(b"\n")) >= 0:
            self.lines.append((bytes(self.buf[:end]), now))
            del self.buf[:end + 1]
        return True

    def next(self):
        """(line, arrived), or None once the host closed the channel."""
        while not self.lines:
            if self.eof or not self.pull():
                return None
        return self.lines.pop(0)


def _verdict(status, detail="", **extra):
    return dict(status=status, detail=detail, **extra)


def run_one(req, tmp_root, nproc_base, wipe=(), host=None, stdin=None):
    """Run the program once in a forked child: (verdict dict, its whole stdout)."""
    lim = req["limits"]
    if "deadline" in req:  # what is left of the caller's ceiling bounds this run too
        lim = dict(lim, wall_ceiling=min(lim["wall_ceiling"], max(0.0, req["deadline"] - time.monotonic())))
    nonce = os.urandom(16).hex()
    stdin_fd = os.memfd_create("stdin")
    os.write(stdin_fd, (req.get("stdin", "") if stdin is None else stdin).encode("utf-8", errors="surrogateescape"))
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    workdir = os.path.join(tmp_root, WORKDIR)
    if os.path.lexists(workdir):  # left by a program the last cleanup could not undo
        forkreap.rmtree(workdir)
    os.mkdir(workdir, 0o700)
    try:
        _write_files(workdir, req.get("files") or ())
    except (OSError, ValueError) as exc:
        forkreap.rmtree(workdir)
        for fd in (stdin_fd, out_r, out_w, err_r, err_w, res_r, res_w):
            os.close(fd)
        return _verdict("sandbox_error", f"cannot write the request's files: {exc}", wall_time=0.0,
                        cpu_time=0.0, max_cpu_time=0.0, peak_memory_kb=0), b""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            forkchild.setup_child(req, workdir, (stdin_fd, out_w, err_w, res_w), nproc_base)
        except BaseException as exc:
            msg = json.dumps({"nonce": nonce, "pid": os.getpid(), "status": "sandbox_error",
                              "detail": "child setup: " + forkchild.describe(exc)}).encode()
            for fd in (forkchild.RESULT_FD, res_w):  # setup may have failed before or after the dup
                try:
                    os.write(fd, msg + b"\n")
                    break
                except OSError:
                    pass
            os._exit(70)
        try:
            forkchild.run_child(req, nonce)
        except MemoryError:  # out of memory even for the harness's own exit path
            os._exit(forkchild.EXIT_OOM)
        finally:
            os._exit(70)  # never return into the server loop
    for fd in (stdin_fd, out_w, err_w, res_w):
        os.close(fd)
    buffers = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
    keep_output = bool(req.get("keep_output"))
    fetched = {}
    try:
        killed_for = forkwatch.watch(pid, buffers, res_r, err_r, lim, start, host, forkreap.tree_cpu,
                                     forkreap.tree_wait, keep_stderr=keep_output)
    finally:
        # Also on a harness error: the program and all it started never outlive this.
        # (SIGKILL to a program that already exited only hits its zombie.)
        wall = time.monotonic() - start
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        _, wstatus, usage = os.wait4(pid, 0)
        forkreap.kill_leftovers(pid)
        forkwatch.drain(buffers, res_r, lim)
        for fd in buffers:
            os.close(fd)
        # Returned files count as output: one over its cap is left out, as is a file the
        # file-size limit cut.
        fetched = _fetch_files(workdir, req.get("fetch_files") or (), lim["max_output_bytes"])
        forkreap.rmtree(workdir)
        forkreap.wipe(wipe)

    report = None
    for line in bytes(buffers[res_r]).splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("nonce") == nonce and msg.get("pid") == pid:
            report = msg
    extra = dict(
        wall_time=round(wall, 6),
        cpu_time=round(usage.ru_utime + usage.ru_stime, 6),
        max_cpu_time=round(usage.ru_utime + usage.ru_stime, 6),
        peak_memory_kb=usage.ru_maxrss,
        stdout_tail=forkwatch.tail(buffers[out_r]),
        stderr_tail=forkwatch.tail(buffers[err_r]),
        total_tests=1 if req.get("test") is not None else 0,
    )
    if keep_output:
        # The stated cap holds for what is returned too: the read that crossed it is cut.
        out = bytes(buffers[out_r][:lim["max_output_bytes"]])
        extra["stdout"] = out.decode("utf-8", errors="replace")
        extra["stderr"] = bytes(buffers[err_r][:lim["max_output_bytes"] - len(out)]).decode("utf-8", errors="replace")
    if req.get("fetch_files"):
        extra["files"] = fetched
    if os.WIFSIGNALED(wstatus):
        extra["signal"] = os.WTERMSIG(wstatus)
    else:
        extra["exit_code"] = os.WEXITSTATUS(wstatus)
    return _decide(req, killed_for, report, extra), bytes(buffers[out_r])


def _inside(workdir, path):
    """``path`` resolved inside ``workdir``, or ValueError: a request's files never
    land, and are never read, outside the program's own work dir."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise ValueError(f"bad file path {path!r}")
    full = os.path.realpath(os.path.join(workdir, path))
    if os.path.commonpath([full, os.path.realpath(workdir)]) != os.path.realpath(workdir) or \
            full == os.path.realpath(workdir):
        raise ValueError(f"file path {path!r} is outside the work dir")
    return full


def _write_files(workdir, files):
    for path, content in files:
        full = _inside(workdir, path)
        os.makedirs(os.path.dirname(full), mode=0o700, exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(base64.b64decode(content or "", validate=True))


def _fetch_files(workdir, paths, max_bytes):
    """The regular files the program left at ``paths`` (base64), as SandboxFusion
    returns them: a missing, special or over-size file is left out."""
    out = {}
    for path in paths:
        try:
            full = _inside(workdir, path)
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (OSError, ValueError):
            continue
        try:
            info = os.fstat(fd)
            if not (info.st_mode & 0o170000 == 0o100000 and info.st_size <= max_bytes):
                continue
            with os.fdopen(os.dup(fd), "rb") as fh:
                out[path] = base64.b64encode(fh.read(max_bytes + 1)[:max_bytes]).decode("ascii")
        except OSError:
            continue
        finally:
            os.close(fd)
    return out


def run_request(req, tmp_root, nproc_base, wipe=(), host=None, arrived=None):
    """A request with stdin/stdout ``cases`` runs the program once per case, each in a
    fresh child, and judges its stdout here, next to it; otherwise it runs once.
    ``limits.ceiling`` and ``start_within`` count from ``arrived`` (monotonic; default
    now): a request the host sent ahead waits here for the one before, and that wait
    counts."""
    now = time.monotonic()
    arrived = now if arrived is None else arrived
    ceiling = req["limits"].get("ceiling")
    if ceiling is not None:
        req["deadline"] = arrived + ceiling
    if (ceiling is not None and req["deadline"] - now < min(req["limits"]["wall_cap"], ceiling) - START_SLACK
            or now - arrived > req.get("start_within", float("inf"))):
        return _verdict("sandbox_error", NOT_STARTED, wall_time=0.0, cpu_time=0.0, max_cpu_time=0.0,
                        peak_memory_kb=0)
    cases = req.get("cases")
    if cases is None:
        return run_one(req, tmp_root, nproc_base, wipe, host)[0]
    rules = req.get("compare") or {}
    total = dict(wall_time=0.0, cpu_time=0.0, max_cpu_time=0.0, peak_memory_kb=0)
    passed = 0
    first_failure = None
    per_case = [] if req.get("case_results") else None
    for i, case in enumerate(cases):
        verdict, stdout = run_one(req, tmp_root, nproc_base, wipe, host, stdin=case["stdin"])
        for key in ("stdout", "stderr", "files"):  # a whole request's worth would be too much
            verdict.pop(key, None)
        for key in ("wall_time", "cpu_time"):
            total[key] = round(total[key] + verdict[key], 6)
        for key in ("peak_memory_kb", "max_cpu_time"):
            total[key] = max(total[key], verdict[key])
        if verdict["status"] == "passed":
            diff = judge.compare_stdout(stdout.decode("utf-8", errors="replace"), case["expected"],
                                        rules.get("float_tol", judge.FLOAT_TOL), rules.get("case_sensitive", True),
                                        rules.get("strict_integers", False))
            if diff is not None:
                verdict = dict(verdict, status="failed", detail=f"test {i}: wrong answer: {diff}")
        elif verdict["status"] != "sandbox_error":
            verdict = dict(verdict, detail=f"test {i}: {verdict['detail']}".rstrip(": "))
        if per_case is not None:
            per_case.append({k: verdict.get(k) for k in CASE_FIELDS})
        if verdict["status"] == "passed":
            passed += 1
            continue
        if first_failure is None:
            first_failure = dict(verdict, failing_test=i)
        if verdict["status"] == "sandbox_error" or not req.get("all_cases"):
            break
    result = first_failure or dict(verdict, detail="")
    if per_case is not None:
        result = dict(result, cases=per_case)
    return dict(result, **total, passed_tests=passed, total_tests=len(cases))


# What ``case_results`` reports of each case.
CASE_FIELDS = ("status", "detail", "exit_code", "signal", "wall_time", "cpu_time", "peak_memory_kb",
               "stdout_tail", "stderr_tail")


def _decide(req, killed_for, report, extra):
    lim = req["limits"]
    has_tests = req.get("test") is not None
    sig = extra.get("signal")
    if killed_for == "cpu_limit":
        return _verdict("timeout", f"CPU time limit of {lim['timeout']} s exceeded", **extra)
    if killed_for == "wall_cap":
        return _verdict("timeout", f"wall-clock cap of {lim['wall_cap']} s exceeded", **extra)
    if killed_for == "host_gone":
        return _verdict("sandbox_error", "the host closed the channel", **extra)
    if killed_for == "output_limit":
        return _verdict("output_limit", f"more than {lim['max_output_bytes']} bytes of output", **extra)
    if report is not None:
        status = report["status"]
        if status == "passed":
            extra["passed_tests"] = 1
        elif has_tests and status == "failed":
            extra["failing_test"] = 0
        return _verdict(status, report.get("detail", ""), **extra)
    if sig == signal.SIGXCPU:
        return _verdict("timeout", f"CPU time limit of {lim['timeout']} s exceeded", **extra)
    if sig == signal.SIGXFSZ:
        return _verdict("output_limit", f"file larger than {lim['max_file_bytes']} bytes", **extra)
    if sig is not None:
        return _verdict("runtime_error", f"killed by signal {signal.Signals(sig).name}", **extra)
    code = extra["exit_code"]
    if code == forkchild.EXIT_OOM:
        return _verdict("oom", "MemoryError", **extra)
    if code != 0:
        return _verdict("runtime_error", f"exit status {code}", **extra)
    if has_tests:
        return _verdict("failed", "program exited before the tests completed", **extra)
    extra["passed_tests"] = 0
    return _verdict("passed", "", **extra)


def _drop_privileges(uid):
    if os.getuid() == 0 and uid:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)


def main(argv):
    opts = dict(zip(argv[0::2], argv[1::2], strict=True))
    uid = int(opts.get("--uid", 0))
    if os.getuid() == 0:  # the host's root, or root of a user namespace (unshare)
        try:
            if opts.get("--loopback"):
                namespaces.loopback_up()
            namespaces.setup(json.loads(opts.get("--expose", "[]")), json.loads(opts.get("--scratch", "[]")),
                             int(opts.get("--scratch-mb", 512)), for_other_uid=bool(uid))
        except OSError as exc:
            sys.exit(f"fork server: namespace set-up failed: {exc}")
    _drop_privileges(uid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    forkchild.prctl(forkchild.PR_SET_DUMPABLE, 0)
    # Inherited by every child: setuid binaries give a program nothing, in every mode.
    forkchild.prctl(forkchild.PR_SET_NO_NEW_PRIVS, 1)
    if os.getpid() != 1:
        forkchild.prctl(forkchild.PR_SET_CHILD_SUBREAPER, 1)
    tmp_root = opts.get("--tmp") or tempfile.gettempdir()
    os.makedirs(tmp_root, mode=0o700, exist_ok=True)
    nproc_base = int(opts["--nproc-base"]) if "--nproc-base" in opts else forkreap.count_tasks(os.getuid())
    wipe = [d for d in opts.get("--wipe", "").split(",") if d]
    # The protocol channel moves off fds 0/1 so no child can inherit or write to it. With
    # ``--connect``: a Unix socket the host listens at (docker: bind-mounted), where the
    # server first says the secret the host gave on stdin, so no other process can pose as it.
    if "--connect" in opts:
        secret = sys.stdin.buffer.readline()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(opts["--connect"])
            sock.sendall(secret)
            chan = sock.detach()
    else:
        chan = os.dup(0)
    inbox = Inbox(os.dup(chan))
    chan_out = os.fdopen(chan if "--connect" in opts else os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    forkchild.take_snapshot()
    workdir = os.path.join(tmp_root, WORKDIR)
    if os.path.isdir(workdir):
        forkreap.rmtree(workdir)
    forkchild.prepare_children(workdir)
    # Objects that exist now are never collected, so a child's GC never writes to
    # (and copies) the pages it shares with the server.
    gc.freeze()

    def send(obj):
        try:
            chan_out.write(json.dumps(obj).encode() + b"\n")
            chan_out.flush()
        except OSError:  # host gone
            sys.exit(0)

    send({"ready": True, "pid": os.getpid(), "uid": os.getuid(), "python": sys.version.split()[0]})
    while (item := inbox.next()) is not None:
        line, arrived = item
        try:
            req = json.loads(line)
        except ValueError as exc:
            send(_verdict("sandbox_error", f"bad request: {exc}"))
            continue
        try:
            verdict = run_request(req, tmp_root, nproc_base, wipe, inbox, arrived)
        except Exception as exc:  # the harness failed, not the candidate
            verdict = _verdict("sandbox_error", "fork server: " + forkchild.describe(exc))
        verdict["id"] = req.get("id", "")
        send(verdict)


if __name__ == "__main__":
    main(sys.argv[1:])
