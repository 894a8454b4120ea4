"""One service process: the sandbox started before the port opens, uvicorn in front,
and a stop (SIGINT/SIGTERM) that refuses new work, ends running programs and leaves
no container or process behind, in seconds."""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys
import threading
from dataclasses import dataclass

import uvicorn

from sandboxes import Sandbox

from .app import create_app
from .translate import Policy

GRACE_S = 5  # open connections get this long to take their answers after a stop
# Longer than the clients' own idle expiry (httpx 5 s, aiohttp 15 s, requests none) and
# than a Retry-After: at uvicorn's 5 s a pooled connection reused after a 5 s wait races
# the server's close, and the client sees "disconnected without a response".
KEEP_ALIVE_S = 75


@dataclass(frozen=True)
class Settings:
    queue_size: int = 1024
    max_wait: float = 60.0
    api_key: str | None = None
    policy: Policy = Policy()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: whatever it resolves to
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


class _Server(uvicorn.Server):
    """uvicorn's server; on the first stop signal the sandbox closes at once, so the
    programs running end now and their requests are answered (SandboxError), instead
    of uvicorn waiting for them."""

    def __init__(self, config: uvicorn.Config, app, sandbox: Sandbox, on_ready) -> None:
        super().__init__(config)
        self._app = app
        self._sandbox = sandbox
        self._on_ready = on_ready
        self._stopping = threading.Event()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_ready()

    def handle_exit(self, sig: int, frame) -> None:
        if not self._stopping.is_set():
            self._stopping.set()
            print(f"codeharness serve: {signal.Signals(sig).name}: stopping", file=sys.stderr, flush=True)
            self._app.state.admission.close()
            threading.Thread(target=self._sandbox.close, name="sandbox-close", daemon=True).start()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets=None) -> None:
        await super().shutdown(sockets)
        # uvicorn re-raises the stop signal when run() returns: SIGTERM would kill the
        # process before serve() has closed the sandbox (containers left behind). A stop
        # asked for is a clean exit.
        self._captured_signals.clear()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the sandbox starts, so that a taken port is a
    one-line error (OSError) and not a traceback after a minute of set-up."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(sandbox: Sandbox, settings: Settings, sock: socket.socket, announce=print) -> None:
    """Run until stopped on the bound ``sock``; ``sandbox`` is started here and closed
    on the way out."""
    try:
        sandbox.start()
        app = create_app(sandbox, settings.policy, settings.queue_size, settings.api_key, settings.max_wait)
        # No proxy headers: behind no proxy by default, and a client must not pick its logged address.
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=GRACE_S,
                                timeout_keep_alive=KEEP_ALIVE_S,
                                lifespan="off", proxy_headers=False, server_header=False)
        server = _Server(config, app, sandbox, lambda: announce(
            f"codeharness serve: {_url(sock)} (sandbox {sandbox.name}, {sandbox.size} at once, queue "
            f"{settings.queue_size}{', API key required' if settings.api_key else ''}); Ctrl-C stops"))
        server.run(sockets=[sock])
    finally:
        sock.close()
        sandbox.close()


def _url(sock: socket.socket) -> str:
    """Where clients reach it: a wildcard address is every interface, so this host's name."""
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = socket.gethostname()
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"
