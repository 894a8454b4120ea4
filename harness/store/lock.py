"""One ``run`` per run directory at a time. ``RUN_DIR/run.lock`` holds an exclusive
``flock`` while a run uses the directory, and says who holds it: PID, the process's
start time (a PID the system gave to a new process is not the holder), host and
command. The kernel drops the ``flock`` when the holder dies, however it dies
(``kill -9`` too), so a lock file left behind by a dead run is simply taken over."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from ..errors import UserError

LOCK_NAME = "run.lock"


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/PID/stat`` field 22);
    None when no such process (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2:].split()[19])


def holder_alive(info: dict) -> bool:
    """Whether the process a lock file names still runs: same host, same PID and
    the same start time."""
    pid = info.get("pid")
    return (info.get("host") == socket.gethostname() and isinstance(pid, int)
            and process_start(pid) is not None and process_start(pid) == info.get("start_ticks"))


def _read(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 65536, 0) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(info: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["started"])) \
        if isinstance(info.get("started"), (int, float)) else "?"
    return f"PID {info.get('pid', '?')} on {info.get('host', '?')}, started {started}"


class RunLock:
    def __init__(self, directory: Path, log=lambda msg: print(msg, file=sys.stderr)) -> None:
        """Take the directory's lock, or raise UserError naming its holder."""
        self.path = Path(directory) / LOCK_NAME
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise UserError(f"{self.path}: cannot create the run's lock file ({exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = _read(fd)
                os.close(fd)
                raise UserError(f"{directory}: in use by another run ({_describe(info)}); wait for it to end or "
                                "stop it") from None
            # A holder that released between our open and flock may have removed the
            # file: then we hold a lock on a name nobody sees; take the new file's.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        old = _read(fd)
        if old.get("pid") is not None and holder_alive(old) and old.get("pid") != os.getpid():
            # It runs and yet did not hold the flock: this filesystem does not lock.
            os.close(fd)
            raise UserError(f"{directory}: in use by another run ({_describe(old)}); wait for it to end or "
                            "stop it")
        if old.get("pid") is not None:
            log(f"note: {directory}: taking over the lock left by a run that is gone ({_describe(old)})")
        me = {"pid": os.getpid(), "start_ticks": process_start(os.getpid()), "started": time.time(),
              "host": socket.gethostname(), "command": sys.argv}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        self.fd: int | None = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink()  # while still held: nobody can be between open and flock on it unseen
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
