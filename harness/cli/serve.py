"""``python -m harness serve``: the sandbox as a SandboxFusion-compatible HTTP service."""

from __future__ import annotations

import os
import socket

from ..errors import UserError
from .options import add_ray_address, positive_float, positive_int


def add_parser(sub) -> None:
    from sandboxes import SANDBOXES

    sv = sub.add_parser(
        "serve", help="serve the sandbox over HTTP, SandboxFusion-compatible (/run_code, /submit) plus /run_tests",
        description="A SandboxFusion-compatible execution service: POST /run_code, /submit, /run_tests; "
                    "GET /v1/ping, /list_datasets, /metrics. See docs/serve.md.")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1; any other needs --api-key-env)")
    sv.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free port)")
    sv.add_argument("--sandbox", choices=list(SANDBOXES), default=None,
                    help="where programs run (default: docker if its daemon and image are ready, else local)")
    add_ray_address(sv)
    sv.add_argument("--workers", type=positive_int, default=None,
                    help="programs run at once (default: the CPUs; ray: every node's)")
    sv.add_argument("--queue", type=positive_int, default=1024,
                    help="requests that may wait for a worker; beyond it the answer is 504 with Retry-After "
                         "(default 1024)")
    sv.add_argument("--max-memory-mb", type=positive_int, default=4096,
                    help="the largest memory_limit_MB a request may ask (default 4096)")
    sv.add_argument("--default-memory-mb", type=positive_int, default=1024,
                    help="the limit of a request with memory_limit_MB -1 (default 1024)")
    sv.add_argument("--max-output-mb", type=positive_int, default=16,
                    help="stdout + stderr returned per program; a program writing more is stopped (default 16)")
    sv.add_argument("--max-run-timeout", type=positive_float, default=300.0,
                    help="the largest run_timeout a request may ask, in CPU seconds (default 300)")
    sv.add_argument("--max-wait", type=positive_float, default=60.0,
                    help="seconds a /run_tests or /submit request may wait for a worker (default 60); "
                         "/run_code waits at most what its client's time-out leaves")
    sv.add_argument("--api-key-env", metavar="VAR",
                    help="environment variable holding the API key clients send as `Authorization: Bearer KEY`; "
                         "required for a non-loopback --host")
    sv.set_defaults(handle=handle)


def handle(args) -> int:
    from sandboxes import get_sandbox

    from ..serve.server import Settings, bind, is_loopback, serve
    from ..serve.translate import MiB, Policy

    try:
        socket.getaddrinfo(args.host, None)
    except OSError as exc:
        raise UserError(f"--host {args.host}: cannot resolve it ({exc.strerror or exc})") from None
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, "")
        if not api_key:
            raise UserError(f"--api-key-env {args.api_key_env}: that environment variable is not set or empty")
    elif not is_loopback(args.host):
        raise UserError(f"--host {args.host} is reachable from other machines: give an API key with "
                        "--api-key-env VAR (clients send `Authorization: Bearer KEY`)")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: not a port number")
    if args.default_memory_mb > args.max_memory_mb:
        raise UserError("--default-memory-mb is above --max-memory-mb")
    policy = Policy(default_memory_mb=args.default_memory_mb, max_memory_mb=args.max_memory_mb,
                    output_cap=args.max_output_mb * MiB, max_run_timeout=args.max_run_timeout)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    sandbox = get_sandbox(args.sandbox, workers=args.workers, memory_mb=args.max_memory_mb)
    serve(sandbox, Settings(queue_size=args.queue, max_wait=args.max_wait, api_key=api_key, policy=policy), sock,
          announce=lambda line: print(line, flush=True))
    return 0
