"""Fork-server side: what runs in the forked child, from its set-up to its one exit.

Standard library only (sent into the sandbox as source, like ``forkserver``). Set once
in the server and inherited by every child: environment, streams, signal dispositions
(``prepare_children``); per program: session, limits, stdio on pipes (``setup_child``),
then the program and its tests (``run_child``), reporting on ``RESULT_FD``.
"""

# The `noqa: F401` imports are not used here: they warm the modules that candidate
# programs and tests import most, so a forked child pays nothing for them.
import _signal
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
import linecache
import math
import os
import random  # noqa: F401
import re  # noqa: F401
import resource
import signal
import statistics  # noqa: F401
import string  # noqa: F401
import sys
import tempfile
import traceback
import types
import typing  # noqa: F401

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
RESULT_FD = 3
EXIT_OOM = 71  # the child ran out of memory where it could no longer report

_libc = ctypes.CDLL(None, use_errno=True)
# Typed once here: converting arguments per call touches ctypes' objects in the forked
# child, whose copy-on-write faults cost ~0.1 ms a call.
_prctl = _libc.prctl
_prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_prctl.restype = ctypes.c_int


def prctl(option, value):
    return _prctl(option, value, 0, 0, 0)


# Undone before the tests run. Restoring every loaded module would copy most of the
# forked heap (refcount writes on shared pages cost ~5 ms per program), so only the
# modules tests lean on.
RESTORED_MODULES = ("builtins", "math")


def snapshot_modules():
    return {name: (sys.modules[name], dict(vars(sys.modules[name]))) for name in RESTORED_MODULES}


_SNAPSHOT = None


def take_snapshot():
    """Called once by the server, before the first fork."""
    global _SNAPSHOT
    _SNAPSHOT = snapshot_modules()


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
    # Nonce (hex) and status (a name) need no escaping; the JSON encoder, untouched in
    # most children, is left alone when there is no detail.
    text = _dumps(detail[-2000:]) if detail else '""'
    line = f'{{"nonce": "{nonce}", "pid": {_getpid()}, "status": "{status}", "detail": {text}}}\n'
    try:
        _write(RESULT_FD, line.encode())
    except OSError:
        pass


def _classify(exc):
    if isinstance(exc, MemoryError):
        return "oom"
    return "runtime_error"


def describe(exc):
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


def setup_child(req, workdir, fds, nproc_base):
    """Per-program state only; what every program shares was set once in ``prepare_children``."""
    stdin_fd, out_w, err_w, res_w = fds
    lim = req["limits"]
    os.setsid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_DUMPABLE, 1)  # PR_SET_NO_NEW_PRIVS is the server's, inherited
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
    # The server ignores it. _signal: signal.signal's enum wrapping would fault in pages.
    _signal.signal(signal.SIGINT, signal.default_int_handler)


def prepare_children(workdir):
    """Process state every child inherits, set once in the server instead of per fork:
    environment, temp dir, import path, and the std streams (the server never writes
    to them, so their buffers are empty at each fork)."""
    os.environ.clear()
    os.environ.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=workdir, TMPDIR=workdir,
                      LANG="C.UTF-8", PYTHONIOENCODING="utf-8")
    tempfile.tempdir = workdir
    sys.path[:] = [workdir] + [p for p in sys.path if p]
    # As `python3 main.py` has it: not the fork server's own arguments (argparse in a
    # program would reject them).
    sys.argv[:] = ["main.py"]
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


def run_child(req, nonce):
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
    module.__file__ = "main.py"
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
    return _classify(exc), describe(exc), 1


def _run_program(req):
    """(status to report or None, detail, exit status, the program's namespace or None)."""
    test = req.get("test")
    # Sources where traceback and inspect look for them: tracebacks show the lines,
    # inspect.getsource works, as for a program run from its file.
    for name, source in (("main.py", req["code"]), ("tests.py", test)):
        if source is not None:
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    try:
        code = compile(req["code"], "main.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: source with NUL bytes
        return "syntax_error", describe(exc), 1, None
    try:
        test_code = compile(test, "tests.py", "exec", dont_inherit=True) if test is not None else None
    except (SyntaxError, ValueError) as exc:
        return "sandbox_error", "test code does not compile: " + describe(exc), 1, None
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
        return "failed", describe(exc) or "AssertionError", 1, namespace
    except SystemExit as exc:
        return None, "", _exit_code(exc), namespace
    except BaseException as exc:
        return (*_crash(exc), namespace)
    return "passed", "", 0, namespace
