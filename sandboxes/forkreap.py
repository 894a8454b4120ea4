"""Fork-server side: nothing a program started or wrote outlives it.

Standard library only (sent into the sandbox as source, like ``forkserver``).
"""

import os
import signal
import time


def kill_leftovers(pgid):
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


def rmtree(path):
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
                rmtree(entry.path)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def wipe(dirs):
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
                rmtree(full)
            else:
                try:
                    os.unlink(full)
                except OSError:
                    pass


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
