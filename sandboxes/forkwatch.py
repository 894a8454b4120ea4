"""Fork-server side: collecting a running program's output under its limits.

Standard library only (sent into the sandbox as source, like ``forkserver``).
"""

import os
import select
import time

TAIL_BYTES = 4096
STDERR_KEEP = 1 << 20
RESULT_KEEP = 1 << 16  # the result channel carries one short JSON line
CPU_POLL_S = 0.1


def tail(data):
    return data[-TAIL_BYTES:].decode("utf-8", errors="replace")


def watch(pid, buffers, res_r, err_r, lim, start, host, tree_cpu, tree_wait, keep_stderr=False):
    """Collect the program's output until it exits; returns why we must kill it
    (``cpu_limit``, ``wall_cap``, ``output_limit``, ``host_gone``) or None.

    The CPU budget is the whole tree's (``tree_cpu()``: the program and everything it
    started), read from outside: no earlier than the budget could be spent on every
    core at once, then often enough to stop an overrun within ~0.1 s of CPU per core.
    The wall-clock cap does not count the time the tree waited for a CPU
    (``tree_wait()``): when it comes, the cap moves on by that much, up to the plain
    wall-clock ceiling. Stderr past ``STDERR_KEEP`` keeps only its tail unless
    ``keep_stderr`` (then, like stdout, all of it up to the output cap)."""
    pidfd = os.pidfd_open(pid)
    # A plain poll set, not selectors: built once per program, where an epoll set and
    # its Python bookkeeping cost a tenth of a millisecond.
    poller = select.poll()
    try:
        for fd in buffers:
            os.set_blocking(fd, False)
            poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        host_fd = host.fd if host is not None else None
        if host is not None:
            # The host may send its next request while this one runs (``host.pull``
            # keeps it); the channel's end of file means the host is gone (even killed -9).
            poller.register(host_fd, select.POLLIN)
        budget = lim["timeout"]
        cap = start + lim.get("wall_cap", budget)
        ceiling = start + lim.get("wall_ceiling", lim.get("wall_cap", budget))
        cores = len(os.sched_getaffinity(0))
        check = start + budget / cores
        total_out = 0
        while True:
            now = time.monotonic()
            if now >= cap:
                if now >= ceiling:
                    return "wall_cap"
                moved = min(ceiling, start + lim["wall_cap"] + tree_wait())
                if moved - now < 0.01:
                    return "wall_cap"
                cap = moved
            if now >= check:
                used = tree_cpu()
                if used >= budget:
                    return "cpu_limit"
                check = now + min(CPU_POLL_S, max(0.005, (budget - used) / cores))
            events = poller.poll(max(0.0, min(cap, check) - now) * 1000)
            for fd, _ in events:
                if fd == host_fd:
                    if not host.pull():
                        return "host_gone"
                    continue
                if fd == pidfd:
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    poller.unregister(fd)
                    continue
                # Everything the program writes counts toward its output cap, the
                # result channel too; what is kept is bounded per stream.
                total_out += len(chunk)
                if fd == res_r:
                    buffers[fd] += chunk[: max(0, RESULT_KEEP - len(buffers[fd]))]
                else:
                    if fd == err_r and not keep_stderr and len(buffers[fd]) >= STDERR_KEEP:
                        buffers[fd] = buffers[fd][-TAIL_BYTES:]
                    buffers[fd] += chunk
                if total_out > lim["max_output_bytes"]:
                    return "output_limit"
            if any(fd == pidfd for fd, _ in events):
                return None
    finally:
        os.close(pidfd)


def drain(buffers, res_r, lim):
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
