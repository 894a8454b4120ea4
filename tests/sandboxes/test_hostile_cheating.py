"""Programs that try to pass without being right or to garble the harness's report: each gets
an exact verdict (``sandbox`` fixture; ``tests/sandboxes/test_local_venv.py`` runs these in every local
mode too)."""

from __future__ import annotations

import pytest
from test_hostile import LIMITS, run

from sandboxes import ExecRequest, Status

CHECK_ABS = "def check(candidate):\n    assert abs(candidate() - 1) < 1e-9\ncheck(f)\n"
CHECK_ISCLOSE = "import math\nassert math.isclose(f(), 1)\n"


@pytest.mark.parametrize("code,test", [
    ("import sys\nsys.exit(0)\n", CHECK_ABS),
    ("import os\nos._exit(0)\n", CHECK_ABS),
    ("raise SystemExit\n", CHECK_ABS),
    ("def f():\n    import sys; sys.exit(0)\n", CHECK_ABS),
    ("def f():\n    import os; os._exit(0)\n", CHECK_ABS),
    # Overriding the helpers the tests rely on.
    ("import builtins\nbuiltins.abs = lambda x: 0\ndef f():\n    return 5\n", CHECK_ABS),
    ("import math\nmath.isclose = lambda *a, **k: True\ndef f():\n    return 5\n", CHECK_ISCLOSE),
    ("def check(candidate):\n    pass\ndef f():\n    return 5\n", CHECK_ABS),
    ("import builtins\nbuiltins.AssertionError = SystemExit\ndef f():\n    return 5\n", CHECK_ABS),
    # Forging the success report on the result channel.
    ("import os\nos.write(3, b'{\"nonce\": \"x\", \"status\": \"passed\"}\\n')\nos._exit(0)\n", CHECK_ABS),
    ("import atexit, os\natexit.register(lambda: os._exit(0))\ndef f():\n    return 5\n", CHECK_ABS),
    # Shadowing a builtin in the shared module namespace, or replacing __builtins__.
    ("abs = lambda x: 0\ndef f():\n    return 5\n", CHECK_ABS),
    ("__builtins__ = {'abs': lambda x: 0}\ndef f():\n    return 5\n", CHECK_ABS),
    # Disarming the harness's own exits and serializer, so a failure would fall through.
    ("import os\nos._exit = lambda *a: None\ndef f():\n    return 5\n", CHECK_ABS),
    ("import json\nreal = json.dumps\njson.dumps = lambda o, **k: real(dict(o, status='passed'))\n"
     "def f():\n    return 5\n", CHECK_ABS),
    ("import __main__\n__main__._report = lambda *a: None\n__main__._exit = lambda c: None\n"
     "def f():\n    return 5\n", CHECK_ABS),
], ids=["sys.exit", "os._exit", "SystemExit", "exit-in-call", "os._exit-in-call", "builtins.abs",
        "math.isclose", "shadow-check", "AssertionError", "forged-report", "atexit", "shadow-abs",
        "replace-__builtins__", "disarm-os._exit", "patch-json.dumps", "patch-__main__"])
def test_cheating_never_passes(sandbox, code, test):
    v = sandbox.execute(ExecRequest(code, test, limits=LIMITS))
    assert v.status is Status.FAILED, v


def test_flooding_the_result_channel(sandbox):
    v = run(sandbox, "import os\nwhile True:\n    os.write(3, b'x' * 65536)\n")
    assert v.status is Status.OUTPUT_LIMIT, v


def test_script_gets_its_own_main_module(sandbox):
    v = run(sandbox, """
        import __main__, pickle
        class Point:
            pass
        assert not hasattr(__main__, "run_one")  # the fork server is out of reach
        print(type(pickle.loads(pickle.dumps(Point()))).__name__)
    """)
    assert v.status is Status.PASSED and v.stdout_tail == "Point\n", v


def test_traceback_shows_only_the_program(sandbox):
    v = run(sandbox, "def f():\n    return 1 / 0\nf()\n")
    assert v.status is Status.RUNTIME_ERROR and v.detail == "ZeroDivisionError: division by zero"
    assert v.stderr_tail.startswith("Traceback (most recent call last):\n  File \"main.py\", line 3")
    assert "forkserver" not in v.stderr_tail and "forkchild" not in v.stderr_tail
