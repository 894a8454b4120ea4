"""Fork-server side: the namespace set-up done as root, before the uid is dropped.

Standard library only (sent into the sandbox as source, like ``forkserver``).

* Private scratch: ``/tmp`` and ``/dev/shm`` covered with size-limited tmpfs mounts
  (``unshare`` mode), so programs neither see the host's temp files nor fill its disk.
* The interpreter stays readable: a Python under a directory only root may enter
  (pyenv under ``/root``, mode 0700) would let the dropped uid import nothing the
  server had not loaded (``import socket`` fails). Such a directory is covered with an
  empty world-traversable tmpfs, so the program sees nothing else of it.
* Either way the interpreter's directories are bind-mounted back at their own paths
  (a venv under ``/tmp`` included). Nothing here touches the host: it all happens in
  a private mount namespace.
* The loopback interface of a fresh network namespace is brought up.
"""

import ctypes
import fcntl
import os
import socket
import stat
import struct

CLONE_NEWNS = 0x00020000
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def closed_ancestor(path):
    """The topmost directory above ``path`` that other users cannot enter, or None."""
    current = ""
    for part in os.path.realpath(path).split(os.sep)[1:-1]:
        current += os.sep + part
        try:
            if not os.stat(current).st_mode & stat.S_IXOTH:
                return current
        except OSError:
            return None
    return None


def plan(expose, scratch=(), scratch_mb=512, for_other_uid=True):
    """{directory to cover: tmpfs options}: the scratch dirs, and (for another uid) the
    closed ancestors of the dirs to expose. A cover inside another one is dropped."""
    covers = {d: f"mode=1777,size={scratch_mb}m" for d in scratch if os.path.isdir(d)}
    if for_other_uid:
        for d in expose:
            top = closed_ancestor(d)
            if top is not None:
                covers.setdefault(top, "mode=0755,size=1m")
    return {top: opts for top, opts in covers.items()
            if not any(o != top and top.startswith(o + os.sep) for o in covers)}


def setup(expose, scratch=(), scratch_mb=512, for_other_uid=True):
    """Cover and re-expose as ``plan`` says; returns the covered dirs (none: no-op)."""
    covers = plan(expose, scratch, scratch_mb, for_other_uid)
    if not covers:
        return []
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Nothing done below may propagate to the host's mount table.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for top, opts in covers.items():
        inner = sorted({os.path.realpath(d) for d in expose if os.path.realpath(d).startswith(top + os.sep)})
        # Opened before the tmpfs hides them; bound back through /proc/self/fd.
        fds = [(d, os.open(d, os.O_PATH | os.O_DIRECTORY)) for d in inner]
        try:
            _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, opts)
            for d, fd in fds:
                _makedirs(top, d)
                _mount(f"/proc/self/fd/{fd}", d, None, MS_BIND | MS_REC)
        finally:
            for _, fd in fds:
                os.close(fd)
    return sorted(covers)


def _makedirs(top, path):
    current = top
    for part in os.path.relpath(path, top).split(os.sep):
        current = os.path.join(current, part)
        if not os.path.isdir(current):
            os.mkdir(current)
            os.chmod(current, 0o755)


def loopback_up():
    """Bring ``lo`` up, as bwrap and Docker do: programs may talk to themselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
