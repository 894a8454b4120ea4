"""The local sandbox from a virtualenv under /tmp, as tox, CI runners and many users
install: every mode the host supports must work there and run the hostile suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from support import ROOT, harness

from sandboxes.local import available_modes


@pytest.fixture(scope="module")
def venv_python():
    where = Path(tempfile.mkdtemp(prefix="codeharness-venv-", dir="/tmp"))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True)
        python = where / "venv" / "bin" / "python"
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              check=True, capture_output=True, text=True).stdout.strip()
        # What an editable install gives: the project, and (for pytest and the project's
        # dependencies) this interpreter's packages.
        paths = [str(ROOT)] + [p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p]
        Path(site, "codeharness-test.pth").write_text("\n".join(paths) + "\n")
        yield python
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _in_venv(python, *args, env=None, timeout=900):
    return subprocess.run([str(python), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_every_host_mode_works_from_a_venv_and_holds_against_the_hostile_suite(venv_python):
    host_modes = available_modes()
    proc = _in_venv(venv_python, "-c", "from sandboxes.local import mode_problems; print(mode_problems())")
    assert proc.returncode == 0, proc.stderr
    problems = eval(proc.stdout)
    assert [m for m, why in problems.items() if why is None] == host_modes, problems
    kinds = ",".join(f"local:{m}" for m in host_modes)
    proc = _in_venv(venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/sandboxes/test_hostile.py",
                    "tests/sandboxes/test_hostile_cheating.py",
                    env={"CODEHARNESS_TEST_SANDBOXES": kinds})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " failed" not in summary and " skipped" not in summary, summary
    # Every mode ran the suite: the two checks every sandbox must pass ran once per mode.
    for mode in host_modes:
        for name in ("test_the_whole_standard_library_imports", "test_a_descendant_does_not_report_for_the_program"):
            node = f"tests/sandboxes/test_hostile.py::{name}[local:{mode}]"
            check = _in_venv(venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", node,
                             env={"CODEHARNESS_TEST_SANDBOXES": kinds}, timeout=300)
            assert check.returncode == 0 and "1 passed" in check.stdout, (node, check.stdout[-2000:])


@pytest.mark.slow
def test_a_weaker_mode_is_announced_and_sandbox_check_says_why(venv_python, tmp_path):
    if "unshare" not in available_modes():
        pytest.skip("this host cannot run the unshare mode")
    # A PATH without bwrap: the commands must fall back to unshare and say so.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "unshare").symlink_to(shutil.which("unshare"))
    env = {"PATH": str(bin_dir)}
    prog = tmp_path / "prog.py"
    prog.write_text("import socket, datetime\nprint(datetime.date(2000, 1, 1))\n")
    proc = harness("exec", str(prog), "--sandbox", "local", python=venv_python, env={**os.environ, **env},
                   timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"status": "passed"' in proc.stdout and "2000-01-01" in proc.stdout, proc.stdout
    notes = [line for line in proc.stderr.splitlines() if line.startswith("codeharness: local sandbox")]
    assert notes == ["codeharness: local sandbox in 'unshare' mode: programs can read every host file their uid "
                     "may read outside /tmp (world-readable files); network, processes and /tmp are private "
                     "(bwrap unusable: `bwrap` is not installed)"], proc.stderr
    check = harness("sandbox", "check", python=venv_python, env={**os.environ, **env}, timeout=120)
    assert check.returncode == 0, check.stderr
    assert 'unusable local modes: {"bwrap": "`bwrap` is not installed"}' in check.stdout, check.stdout
