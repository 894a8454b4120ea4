"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat/completions protocol,
with scripted faults (429, 500, dropped connections, 400, 401) before answering,
to test the client side: retries, backoff, fatal errors, token accounting."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultyOpenAIServer:
    """``faults``: what the first requests of each prompt get, in order: an HTTP status
    (int) or "drop" (close the connection without answering); later requests get
    ``answer(prompt)`` as the assistant message, with usage = word counts."""

    def __init__(self, answer, faults=(), status_for_all: int | None = None, raw: bytes | None = None,
                 delay: float = 0.0) -> None:
        """``raw``: every POST gets this body with status 200 (a broken server);
        ``delay``: seconds before answering anything (a hung one)."""
        self.answer, self.faults, self.status_for_all = answer, list(faults), status_for_all
        self.raw, self.delay = raw, delay
        self.requests: list[dict] = []
        self.unknown_paths: list[str] = []  # "GET /models": requests outside /v1, answered 404
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _unknown_path(self) -> bool:
                """Like vLLM's server: the API lives under /v1; anything else is a 404."""
                if self.path.startswith("/v1/"):
                    return False
                with server.lock:
                    server.unknown_paths.append(f"{self.command} {self.path}")
                self._send(404, {"detail": "Not Found"})
                return True

            def do_GET(self):
                if self._unknown_path():
                    return
                time.sleep(server.delay)
                if server.status_for_all:
                    return self._send(server.status_for_all, {"error": {"message": "denied"}})
                self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self._unknown_path():
                    return
                time.sleep(server.delay)
                if server.raw is not None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(server.raw)))
                    self.end_headers()
                    self.wfile.write(server.raw)
                    return
                prompt = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
                with server.lock:
                    server.requests.append(body)
                    attempt = server.seen.get(prompt, 0)
                    server.seen[prompt] = attempt + 1
                fault = server.status_for_all or (server.faults[attempt] if attempt < len(server.faults) else None)
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if fault:
                    return self._send(fault, {"error": {"message": f"scripted {fault}", "type": "test"}})
                text = server.answer(prompt)
                usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split()),
                         "total_tokens": len(prompt.split()) + len(text.split())}
                if "messages" in body:
                    choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                    self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                     "choices": [choice], "usage": usage})
                else:
                    choice = {"index": 0, "finish_reason": "stop", "text": text, "logprobs": None}
                    self._send(200, {"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                                     "choices": [choice], "usage": usage})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
