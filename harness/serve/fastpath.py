"""The ASGI application in front of FastAPI: the API key check for every route, and
the POST routes (``/run_code``, ``/run_tests``: one request per program or test case
from RL trainers; ``/submit``) answered straight from the ASGI scope. FastAPI's routing,
dependency solving and middleware stack cost as much CPU per request as the program
itself (profiled: ~40 % of the service's CPU at 250 requests/s); the rest of the API
stays on FastAPI."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from starlette.responses import JSONResponse, Response

Handler = Callable[[bytes], Awaitable[Response]]
MAX_BODY = 256 * 2**20  # a request larger than this is refused (413), not buffered


class FastPath:
    """Wraps ``app``: POST ``routes`` are served here, everything else by ``app``."""

    def __init__(self, app, routes: dict[str, Handler], api_key: str | None, open_paths: tuple[str, ...]) -> None:
        self.app = app
        self.state = app.state  # what the server reaches (the admission queue) through the wrapper
        self.routes = routes
        self.api_key = api_key.encode() if api_key else None
        self.open_paths = open_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.api_key and scope["path"] not in self.open_paths and not self._authorized(scope):
            await JSONResponse({"detail": "missing or wrong API key (Authorization: Bearer KEY)"}, status_code=401,
                               headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        handler = self.routes.get(scope["path"])
        if handler is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                               headers={"Allow": "POST"})(scope, receive, send)
            return
        body = await _body(receive)
        if body is _GONE:  # the client left before sending it all: nobody to answer
            return
        if body is None:
            response = JSONResponse({"detail": f"request body over {MAX_BODY // 2**20} MiB"}, status_code=413)
        else:
            response = await handler(body)
        await response(scope, receive, send)

    def _authorized(self, scope) -> bool:
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:]
        if not given:
            # Percent-decoded only: a base64 key's "+" stays "+" (form decoding would
            # make it a space), so the key works pasted raw or encoded.
            for pair in scope.get("query_string", b"").split(b"&"):
                name, _, value = pair.partition(b"=")
                if name == b"api_key":
                    given = unquote_to_bytes(value)
        return hmac.compare_digest(given, self.api_key)


_GONE = object()  # the client disconnected


async def _body(receive) -> bytes | object | None:
    """The whole body; None past ``MAX_BODY``; ``_GONE`` if the client disconnected."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _GONE
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
