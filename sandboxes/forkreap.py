"""Fork-server side: nothing a program started or wrote outlives it.

Standard library only (sent into the sandbox as source, like ``forkserver``).
"""

import os
import signal
import time

_TICKS = os.sysconf("SC_CLK_TCK")


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


def _processes():
    """{pid: (ppid, CPU seconds incl. its reaped children's)} of what /proc shows."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        # After "(comm)": state, ppid, ..., utime stime cutime cstime (fields 14-17 of stat).
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 14:
            out[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / _TICKS)
    return out


def _children():
    me = os.getpid()
    return [pid for pid, (ppid, _) in _processes().items() if ppid == me]


def tree_cpu():
    """CPU seconds of every process below this server: the running program and all it
    started (orphans are ours, as subreaper or PID 1; the reaped ones are counted in
    their parent's cutime, zombies by their own)."""
    procs = _processes()
    return sum(procs[pid][1] for pid in _below(procs))


def tree_wait():
    """Seconds the most delayed thread below this server spent runnable but waiting for
    a CPU (``run_delay`` of /proc/PID/task/TID/schedstat): time other jobs took from the
    program, which its wall-clock cap must not count. 0 where the kernel does not say."""
    longest = 0
    for pid in _below(_processes()):
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as fh:
                    longest = max(longest, int(fh.read().split()[1]))
            except (OSError, IndexError, ValueError):
                continue
    return longest / 1e9


def _below(procs):
    """The pids of ``procs`` that descend from this server."""
    me = os.getpid()
    below = {}

    def is_below(pid):
        chain = []
        while pid not in below:
            chain.append(pid)
            ppid = procs[pid][0]
            if ppid == me or ppid not in procs:
                below[pid] = ppid == me
                break
            pid = ppid
        result = below[pid]
        for p in chain:
            below[p] = result
        return result

    return [pid for pid in procs if pid != me and is_below(pid)]


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
