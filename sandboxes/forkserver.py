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

# The `noqa: F401` imports are not used here: they warm the modules that candidate
# programs and tests import most, so a forked child pays nothing for them.
import bisect  # noqa: F401
import collections  # noqa: F401
import copy  # noqa: F401
import ctypes
import decimal  # noqa: F401
import fractions  # noqa: F401
import functools  # noqa: F401
import gc
import hashlib  # noqa: F401
import heapq  # noqa: F401
import io
import itertools  # noqa: F401
import json
import math
import os
import random  # noqa: F401
import re  # noqa: F401
import resource
import selectors
import signal
import statistics  # noqa: F401
import string  # noqa: F401
import sys
import tempfile
import time
import traceback
import types
import typing  # noqa: F401

try:
    from . import judge, namespaces  # imported with their package (host side, tests)
except ImportError:  # inside the sandbox: the bootstrap loaded them first
    import judge
    import namespaces

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
RESULT_FD = 3
EXIT_OOM = 71  # the child ran out of memory where it could no longer report
WORKDIR = "work"  # under --tmp; created empty for each program, removed after it
TAIL_BYTES = 4096
STDERR_KEEP = 1 << 20
RESULT_KEEP = 1 << 16  # the result channel carries one short JSON line

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option, value):
    return _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)


# Undone before the tests run. Restoring every loaded module would copy most of the
# forked heap (refcount writes on shared pages cost ~5 ms per program), so only the
# modules tests lean on.
RESTORED_MODULES = ("builtins", "math")


def _snapshot_modules():
    return {name: (sys.modules[name], dict(vars(sys.modules[name]))) for name in RESTORED_MODULES}


_SNAPSHOT = None


def _restore_modules():
    """Undo monkeypatching of builtins/stdlib by the candidate before the tests run."""
    for name, (mod, saved) in _SNAPSHOT.items():
        sys.modules[name] = mod
        namespace = vars(mod)
        if name == "builtins":
            namespace.clear()  # no builtin lookups until the update below
        namespace.update(saved)
    sys.settrace(None)
    sys.setprofile(None)


# --------------------------------------------------------------------------- child

# Captured before any candidate runs: a program that replaces os._exit, os.write or
# json.dumps does not change what the harness itself calls afterwards.
_exit = os._exit
_write = os.write
_getpid = os.getpid
_dumps = json.dumps
_excepthook = sys.__excepthook__
_BUILTINS = sys.modules["builtins"]
_BUILTIN_NAMES = frozenset(vars(_BUILTINS))


def _report(nonce, status, detail=""):
    # The pid tells the server that the program itself reports, not a process it
    # forked (which inherits the channel and runs this same code when its exec fails).
    line = _dumps({"nonce": nonce, "pid": _getpid(), "status": status, "detail": detail[-2000:]}) + "\n"
    try:
        _write(RESULT_FD, line.encode())
    except OSError:
        pass


def _classify(exc):
    if isinstance(exc, MemoryError):
        return "oom"
    return "runtime_error"


def _describe(exc):
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _flush_std():
    # __stdout__ too: a program that replaced sys.stdout may still have written to it.
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


def _exit_code(exc):
    """Exit status Python itself would give for ``SystemExit(exc.code)``."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _setup_child(req, workdir, fds, nproc_base):
    """Per-program state only; what every program shares was set once in ``_prepare_children``."""
    stdin_fd, out_w, err_w, res_w = fds
    lim = req["limits"]
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 1)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid binaries give it nothing, in every mode
    os.dup2(stdin_fd, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.dup2(res_w, RESULT_FD)
    os.closerange(RESULT_FD + 1, 1 << 16)
    os.set_inheritable(RESULT_FD, False)
    os.chdir(workdir)
    os.umask(0o077)
    mem = lim["memory_mb"] * 2**20
    cpu = int(math.ceil(lim["timeout"])) + 1
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["max_file_bytes"], lim["max_file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = nproc_base + lim["max_processes"]
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    stack = min(mem, 512 * 2**20)
    resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the server ignores it


def _prepare_children(workdir):
    """Process state every child inherits, set once in the server instead of per fork:
    environment, temp dir, import path, and the std streams (the server never writes
    to them, so their buffers are empty at each fork)."""
    os.environ.clear()
    os.environ.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=workdir, TMPDIR=workdir,
                      LANG="C.UTF-8", PYTHONIOENCODING="utf-8")
    tempfile.tempdir = workdir
    sys.path[:] = [workdir] + [p for p in sys.path if p]
    # open() rather than bare TextIOWrapper: programs read attributes such as .mode
    # and .buffer that the interpreter's own streams have.
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False,
                                       buffering=1)
    # SIGXFSZ back to "terminate" (Python ignores it): an over-long file must end the
    # program, not raise an exception it could catch and carry on writing.
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    # As contest judges allow: deep recursion and huge int <-> str conversions.
    sys.setrecursionlimit(100000)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)


def _run_child(req, nonce):
    """Runs in the forked child; never returns. One exit point, through the captured
    ``_exit``, and ``passed`` is only reported after the test code ran to its end."""
    status, detail, exit_code, namespace = _run_program(req)
    if req.get("test") is None and namespace is not None:
        _finish_script(namespace)
    _flush_std()
    if status is not None:
        _report(nonce, status, detail)
    _exit(exit_code)


def _finish_script(namespace):
    """What the interpreter does at exit, which os._exit skips: wait for non-daemon
    threads (contest solutions often run main() in a thread with a big stack), run
    atexit handlers, then tear the program's module down so that objects flushing in
    ``__del__`` (the common FastIO ``IOWrapper``) write out what they hold."""
    threading = sys.modules.get("threading")
    try:
        if threading is not None:
            threading._shutdown()
        import atexit

        atexit._run_exitfuncs()
        _flush_std()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        for value in list(namespace.values()):
            # Flushed while the module's globals (which flush() may use) still exist.
            if isinstance(value, io.IOBase) and not value.closed:
                value.flush()
        namespace.clear()
        gc.collect()
    except BaseException as exc:  # the program's exit code failed; say so, as Python does
        try:
            print("Exception ignored at program exit:", file=sys.__stderr__)
            _excepthook(type(exc), exc, exc.__traceback__)
        except BaseException:
            pass


def _candidate_module(name):
    """The candidate's namespace as a real module, also registered as ``__main__`` so
    that pickle finds its classes and ``import __main__`` does not reach the server."""
    module = types.ModuleType(name)
    module.__builtins__ = _BUILTINS
    sys.modules[name] = sys.modules["__main__"] = module
    return vars(module)


def _test_namespace(candidate):
    """Tests see the candidate's functions and helpers, but not a builtin name it
    rebound to something else (``abs = lambda x: 0`` must not change the tests'
    ``abs``). A function or class it defined under a builtin's name stays: that is
    the function under test (MBPP 126 asks for ``def sum(a, b)``)."""
    namespace = {k: v for k, v in candidate.items() if k not in _BUILTIN_NAMES or _defined_as(k, v)}
    namespace.update(__name__="tests", __builtins__=_BUILTINS)
    return namespace


def _defined_as(name, value):
    return isinstance(value, (types.FunctionType, type)) and value.__name__ == name \
        and value is not getattr(_BUILTINS, name, None)


def _crash(exc):
    """Python's own report of an uncaught exception, without the harness's frame."""
    try:
        if exc.__traceback__ is not None:
            exc.with_traceback(exc.__traceback__.tb_next)
        _excepthook(type(exc), exc, exc.__traceback__)
    except BaseException:
        pass
    return _classify(exc), _describe(exc), 1


def _run_program(req):
    """(status to report or None, detail, exit status, the program's namespace or None)."""
    test = req.get("test")
    try:
        code = compile(req["code"], "main.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: source with NUL bytes
        return "syntax_error", _describe(exc), 1, None
    try:
        test_code = compile(test, "tests.py", "exec", dont_inherit=True) if test is not None else None
    except (SyntaxError, ValueError) as exc:
        return "sandbox_error", "test code does not compile: " + _describe(exc), 1, None
    namespace = _candidate_module("__main__" if test_code is None else "candidate")
    try:
        exec(code, namespace)
    except SystemExit as exc:
        return None, "", _exit_code(exc), namespace
    except BaseException as exc:
        return (*_crash(exc), namespace)
    if test_code is None:
        return None, "", 0, namespace
    _restore_modules()
    try:
        exec(test_code, _test_namespace(namespace))
    except AssertionError as exc:
        return "failed", _describe(exc) or "AssertionError", 1, namespace
    except SystemExit as exc:
        return None, "", _exit_code(exc), namespace
    except BaseException as exc:
        return (*_crash(exc), namespace)
    return "passed", "", 0, namespace


# -------------------------------------------------------------------------- server


def _kill_leftovers(pgid):
    """Kill the program's process group and every process it left behind, then reap."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    while True:
        if os.getpid() == 1:
            # PID 1 of our namespace: -1 reaches every other process in it.
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        else:
            # Subreaper: orphans of the program became our children; find them.
            for pid in _children():
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        reaped = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            reaped = True
        if not reaped:
            time.sleep(0.001)


def _children():
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == me:
            out.append(int(entry))
    return out


def _rmtree(path):
    """Remove a tree the program may have made unreadable (chmod 0): it ran as our
    uid, so we can always give ourselves the permissions back first."""
    try:
        os.chmod(path, 0o700, follow_symlinks=False)
        entries = list(os.scandir(path))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if not os.path.ismount(entry.path):  # the interpreter, bound into a scratch dir
                _rmtree(entry.path)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _tail(data):
    return data[-TAIL_BYTES:].decode("utf-8", errors="replace")


def _verdict(status, detail="", **extra):
    return dict(status=status, detail=detail, **extra)


def _wipe(dirs):
    """Empty scratch dirs private to this server: the program may write anywhere in
    them, and the next program must find them as it found them."""
    for d in dirs:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for name in entries:
            full = os.path.join(d, name)
            if os.path.ismount(full):
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                _rmtree(full)
            else:
                try:
                    os.unlink(full)
                except OSError:
                    pass


def _watch(pid, buffers, res_r, err_r, lim, start, host_fd):
    """Collect the program's output until it exits; returns why we must kill it
    (``timeout``, ``output_limit``, ``host_gone``) or None."""
    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    try:
        for fd in buffers:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        sel.register(pidfd, selectors.EVENT_READ)
        if host_fd is not None:
            # The host sends nothing while a program runs, so the channel turning
            # readable means end of file: the host is gone (even killed -9).
            sel.register(host_fd, selectors.EVENT_READ)
        deadline = start + lim["timeout"]
        total_out = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            events = sel.select(remaining)
            for key, _ in events:
                fd = key.fd
                if fd == host_fd:
                    return "host_gone"
                if fd == pidfd:
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    continue
                # Everything the program writes counts toward its output cap, the
                # result channel too; what is kept is bounded per stream.
                total_out += len(chunk)
                if fd == res_r:
                    buffers[fd] += chunk[: max(0, RESULT_KEEP - len(buffers[fd]))]
                else:
                    if fd == err_r and len(buffers[fd]) >= STDERR_KEEP:
                        buffers[fd] = buffers[fd][-TAIL_BYTES:]
                    buffers[fd] += chunk
                if total_out > lim["max_output_bytes"]:
                    return "output_limit"
            if any(key.fd == pidfd for key, _ in events):
                return None
    finally:
        sel.close()
        os.close(pidfd)


def _drain(buffers, res_r, lim):
    """What the program wrote before it ended; every writer is dead by now."""
    for fd, buf in buffers.items():
        keep = RESULT_KEEP if fd == res_r else lim["max_output_bytes"]
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk or len(buf) + len(chunk) > keep:
                break
            buf += chunk


def run_one(req, tmp_root, nproc_base, wipe=(), host_fd=None, stdin=None):
    """Run the program once in a forked child: (verdict dict, its whole stdout)."""
    lim = req["limits"]
    nonce = os.urandom(16).hex()
    stdin_fd = os.memfd_create("stdin")
    os.write(stdin_fd, (req.get("stdin", "") if stdin is None else stdin).encode("utf-8", errors="surrogateescape"))
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    workdir = os.path.join(tmp_root, WORKDIR)
    if os.path.lexists(workdir):  # left by a program the last cleanup could not undo
        _rmtree(workdir)
    os.mkdir(workdir, 0o700)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            _setup_child(req, workdir, (stdin_fd, out_w, err_w, res_w), nproc_base)
        except BaseException as exc:
            msg = json.dumps({"nonce": nonce, "pid": os.getpid(), "status": "sandbox_error",
                              "detail": "child setup: " + _describe(exc)}).encode()
            for fd in (RESULT_FD, res_w):  # setup may have failed before or after the dup
                try:
                    os.write(fd, msg + b"\n")
                    break
                except OSError:
                    pass
            os._exit(70)
        try:
            _run_child(req, nonce)
        except MemoryError:  # out of memory even for the harness's own exit path
            os._exit(EXIT_OOM)
        finally:
            os._exit(70)  # never return into the server loop
    for fd in (stdin_fd, out_w, err_w, res_w):
        os.close(fd)
    buffers = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
    try:
        killed_for = _watch(pid, buffers, res_r, err_r, lim, start, host_fd)
    finally:
        # Also on a harness error: the program and all it started never outlive this.
        # (SIGKILL to a program that already exited only hits its zombie.)
        wall = time.monotonic() - start
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        _, wstatus, usage = os.wait4(pid, 0)
        _kill_leftovers(pid)
        _drain(buffers, res_r, lim)
        for fd in buffers:
            os.close(fd)
        _rmtree(workdir)
        _wipe(wipe)

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
        peak_memory_kb=usage.ru_maxrss,
        stdout_tail=_tail(buffers[out_r]),
        stderr_tail=_tail(buffers[err_r]),
        total_tests=1 if req.get("test") is not None else 0,
    )
    if os.WIFSIGNALED(wstatus):
        extra["signal"] = os.WTERMSIG(wstatus)
    else:
        extra["exit_code"] = os.WEXITSTATUS(wstatus)
    return _decide(req, killed_for, report, extra), bytes(buffers[out_r])


def run_request(req, tmp_root, nproc_base, wipe=(), host_fd=None):
    """A request with stdin/stdout ``cases`` runs the program once per case, each in a
    fresh child, and judges its stdout here, next to it; otherwise it runs once."""
    cases = req.get("cases")
    if cases is None:
        return run_one(req, tmp_root, nproc_base, wipe, host_fd)[0]
    rules = req.get("compare") or {}
    total = dict(wall_time=0.0, cpu_time=0.0, peak_memory_kb=0)
    passed = 0
    first_failure = None
    for i, case in enumerate(cases):
        verdict, stdout = run_one(req, tmp_root, nproc_base, wipe, host_fd, stdin=case["stdin"])
        for key in ("wall_time", "cpu_time"):
            total[key] = round(total[key] + verdict[key], 6)
        total["peak_memory_kb"] = max(total["peak_memory_kb"], verdict["peak_memory_kb"])
        if verdict["status"] == "passed":
            diff = judge.compare_stdout(stdout.decode("utf-8", errors="replace"), case["expected"],
                                        rules.get("float_tol", judge.FLOAT_TOL), rules.get("case_sensitive", True),
                                        rules.get("strict_integers", False))
            if diff is not None:
                verdict = dict(verdict, status="failed", detail=f"test {i}: wrong answer: {diff}")
        elif verdict["status"] != "sandbox_error":
            verdict = dict(verdict, detail=f"test {i}: {verdict['detail']}".rstrip(": "))
        if verdict["status"] == "passed":
            passed += 1
            continue
        if first_failure is None:
            first_failure = dict(verdict, failing_test=i)
        if verdict["status"] == "sandbox_error" or not req.get("all_cases"):
            break
    result = first_failure or dict(verdict, detail="")
    return dict(result, **total, passed_tests=passed, total_tests=len(cases))


def _decide(req, killed_for, report, extra):
    lim = req["limits"]
    has_tests = req.get("test") is not None
    sig = extra.get("signal")
    if killed_for == "timeout":
        return _verdict("timeout", f"wall-clock limit of {lim['timeout']} s exceeded", **extra)
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
        return _verdict("timeout", "CPU time limit exceeded", **extra)
    if sig == signal.SIGXFSZ:
        return _verdict("output_limit", f"file larger than {lim['max_file_bytes']} bytes", **extra)
    if sig is not None:
        return _verdict("runtime_error", f"killed by signal {signal.Signals(sig).name}", **extra)
    code = extra["exit_code"]
    if code == EXIT_OOM:
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


def count_tasks(uid):
    """Tasks running as ``uid`` that this process can see: RLIMIT_NPROC counts them too."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def main(argv):
    global _SNAPSHOT
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
    _prctl(PR_SET_DUMPABLE, 0)
    if os.getpid() != 1:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    tmp_root = opts.get("--tmp") or tempfile.gettempdir()
    os.makedirs(tmp_root, mode=0o700, exist_ok=True)
    nproc_base = int(opts["--nproc-base"]) if "--nproc-base" in opts else count_tasks(os.getuid())
    wipe = [d for d in opts.get("--wipe", "").split(",") if d]
    # The protocol channel moves off fds 0/1 so no child can inherit or write to it.
    chan_in = os.fdopen(os.dup(0), "rb")
    chan_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    _SNAPSHOT = _snapshot_modules()
    workdir = os.path.join(tmp_root, WORKDIR)
    if os.path.isdir(workdir):
        _rmtree(workdir)
    _prepare_children(workdir)
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
    for line in chan_in:
        try:
            req = json.loads(line)
        except ValueError as exc:
            send(_verdict("sandbox_error", f"bad request: {exc}"))
            continue
        try:
            verdict = run_request(req, tmp_root, nproc_base, wipe, chan_in.fileno())
        except Exception as exc:  # the harness failed, not the candidate
            verdict = _verdict("sandbox_error", "fork server: " + _describe(exc))
        verdict["id"] = req.get("id", "")
        send(verdict)


if __name__ == "__main__":
    main(sys.argv[1:])
