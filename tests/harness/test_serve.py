"""``python -m harness serve``'s contract, field by field, against a real server on
127.0.0.1: SandboxFusion's ``/run_code`` statuses, files in and out, request errors,
``/metrics`` counts, and the CLI's refusals (API key, taken port)."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from support import free_port, harness, served

RAN = {"compile_result": None, "files": {}}  # what every answer of a program that ran carries


@pytest.fixture(scope="module")
def url():
    with served("--sandbox", "local", "--workers", "2") as srv:
        yield srv.url


def post(url: str, timeout: float = 60, **body) -> httpx.Response:
    return httpx.post(f"{url}/run_code", json={"language": "python", **body}, timeout=timeout)


def run_code(url: str, **body) -> dict:
    resp = post(url, **body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def run_result(answer: dict) -> dict:
    """``run_result`` without its timings, which are checked present and sane."""
    run = dict(answer["run_result"])
    for key in ("execution_time", "cpu_time"):
        assert isinstance(run.pop(key), float), answer
    return run


def test_success(url):
    answer = run_code(url, code="import sys\nprint('out')\nprint('err', file=sys.stderr)\n")
    assert answer["executor_pod_name"] == socket.gethostname()
    assert {k: answer[k] for k in ("status", "message", *RAN)} == {"status": "Success", "message": "", **RAN}
    assert run_result(answer) == {"status": "Finished", "return_code": 0, "stdout": "out\n", "stderr": "err\n"}
    assert 0 < answer["run_result"]["cpu_time"] <= answer["run_result"]["execution_time"] + 0.01


def test_non_zero_exit(url):
    answer = run_code(url, code="import sys\nprint('partial')\nsys.exit(3)\n")
    assert (answer["status"], answer["message"]) == ("Failed", "")
    assert run_result(answer) == {"status": "Finished", "return_code": 3, "stdout": "partial\n", "stderr": ""}


def test_uncaught_exception(url):
    answer = run_code(url, code="def f():\n    raise ValueError('boom')\nf()\n")
    run = run_result(answer)
    assert (answer["status"], run["status"], run["return_code"], run["stdout"]) == ("Failed", "Finished", 1, "")
    assert run["stderr"].startswith("Traceback (most recent call last):\n"), run
    assert run["stderr"].endswith("ValueError: boom\n"), run
    assert ", line 2, in f\n" in run["stderr"], run


def test_syntax_error(url):
    answer = run_code(url, code="print('never')\ndef f(:\n")
    run = run_result(answer)
    assert (answer["status"], run["status"], run["return_code"], run["stdout"]) == ("Failed", "Finished", 1, "")
    assert run["stderr"].endswith("SyntaxError: invalid syntax\n"), run
    assert "line 2" in run["stderr"], run


def test_killed_by_a_signal(url):
    answer = run_code(url, code="import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert (answer["status"], answer["message"]) == ("Failed", "")
    assert run_result(answer) == {"status": "Finished", "return_code": -9, "stdout": "bye\n", "stderr": ""}


def test_sleep_gets_time_limit_after_run_timeout_wall_seconds(url):
    began = time.monotonic()
    answer = run_code(url, code="import time\nprint('z', flush=True)\ntime.sleep(60)\n", run_timeout=2)
    took = time.monotonic() - began
    assert (answer["status"], answer["message"]) == ("Failed", "wall-clock cap of 2.0 s exceeded")
    run = answer["run_result"]
    assert (run["status"], run["return_code"], run["stdout"]) == ("TimeLimitExceeded", None, "z\n")
    # SandboxFusion's callers count on run_timeout, not a multiple of it.
    assert 2.0 <= run["execution_time"] < 3.0 and 2.0 <= took < 3.0, (run, took)


def test_busy_loop_gets_time_limit(url):
    answer = run_code(url, code="while True:\n    pass\n", run_timeout=1)
    run = answer["run_result"]
    assert (answer["status"], run["status"], run["return_code"]) == ("Failed", "TimeLimitExceeded", None)
    assert answer["message"] in ("CPU time limit of 1.0 s exceeded", "wall-clock cap of 1.0 s exceeded"), answer
    assert run["cpu_time"] >= 0.5, run


def test_stdin(url):
    answer = run_code(url, code="import sys\nprint(sum(map(int, sys.stdin.read().split())))\n", stdin="1 2\n39\n")
    assert run_result(answer)["stdout"] == "42\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_files_in_and_out(url):
    code = ("import os\nprint(open('data/deep/in.txt').read(), open('top.bin', 'rb').read())\n"
            "os.makedirs('res/sub')\nopen('res/sub/out.bin', 'wb').write(bytes(range(256)))\n"
            "open('plain.txt', 'w').write('made here')\n")
    answer = run_code(url, code=code, files={"data/deep/in.txt": b64(b"hello"), "top.bin": b64(b"\x00\xff"),
                                             "skipped.txt": None},
                      fetch_files=["res/sub/out.bin", "plain.txt", "data/deep/in.txt", "never/made.txt"])
    assert answer["status"] == "Success", answer
    assert run_result(answer)["stdout"] == "hello b'\\x00\\xff'\n"
    # A file the program did not leave is left out of the answer, as in SandboxFusion.
    assert answer["files"] == {"res/sub/out.bin": b64(bytes(range(256))), "plain.txt": b64(b"made here"),
                               "data/deep/in.txt": b64(b"hello")}


@pytest.mark.parametrize("field, path", [("fetch_files", "../x"), ("fetch_files", "/etc/passwd"),
                                         ("fetch_files", "a/../../x"), ("files", "../x"), ("files", "/tmp/x")])
def test_paths_outside_the_work_dir_are_refused(url, field, path):
    body = {"fetch_files": [path]} if field == "fetch_files" else {"files": {path: b64(b"x")}}
    resp = post(url, code="print(1)\n", **body)
    assert resp.status_code == 400
    assert resp.json() == {"detail": f"{field}: {path!r} must be a relative path inside the program's work dir"}


def test_files_not_base64_refused(url):
    resp = post(url, code="print(1)\n", files={"a.txt": "not base64!"})
    assert (resp.status_code, resp.json()) == (400, {"detail": "files['a.txt']: not base64"})


def test_unknown_fields_are_ignored(url):
    answer = run_code(url, code="print(7)\n", extra_field={"a": 1}, timeout_s=3, compile_timeout=5)
    assert (answer["status"], run_result(answer)["stdout"]) == ("Success", "7\n")


def test_missing_code_is_422(url):
    resp = httpx.post(f"{url}/run_code", json={"language": "python"}, timeout=30)
    assert resp.status_code == 422
    (error,) = resp.json()["detail"]
    assert (error["type"], error["loc"]) == ("missing", ["body", "code"])


def test_another_language_is_a_sandbox_error(url):
    answer = run_code(url, code="int main() { return 0; }", language="cpp")
    assert answer == {"status": "SandboxError", "executor_pod_name": socket.gethostname(), "run_result": None,
                      "message": "language 'cpp' is not supported: codeharness serve runs Python only "
                                 "(language 'python')", **RAN}


def test_memory_limit(url):
    # -1: the server's default (1024 MB); a stated limit is the program's.
    default = run_result(run_code(url, code="x = bytearray(1500 * 2**20)\n", memory_limit_MB=-1))
    assert (default["return_code"], default["stderr"].splitlines()[-1]) == (1, "MemoryError"), default
    small = run_result(run_code(url, code="x = bytearray(200 * 2**20)\nprint(len(x))\n", memory_limit_MB=128))
    assert (small["return_code"], small["stderr"].splitlines()[-1]) == (1, "MemoryError"), small
    fits = run_result(run_code(url, code="x = bytearray(200 * 2**20)\nprint(len(x) // 2**20)\n",
                               memory_limit_MB=512))
    assert (fits["return_code"], fits["stdout"]) == (0, "200\n"), fits
    resp = post(url, code="print(1)\n", memory_limit_MB=8)
    assert resp.status_code == 400
    assert resp.json() == {"detail": "memory_limit_MB: 8 is below the 32 MB a Python program needs "
                                     "(-1: the server's default)"}
    resp = post(url, code="print(1)\n", memory_limit_MB=100000)
    assert resp.status_code == 400
    assert resp.json() == {"detail": "memory_limit_MB: 100000 is above this server's --max-memory-mb 4096"}


def test_ping(url):
    resp = httpx.get(f"{url}/v1/ping", timeout=30)
    assert (resp.status_code, resp.json()) == (200, "pong")


@pytest.mark.slow
def test_an_idle_connection_outlives_a_retry_after_wait(url):
    """A pooled connection reused after a 6 s wait (a Retry-After, httpx's 5 s expiry)
    still gets its answer: the server does not close it first (uvicorn's default 5 s
    did, and clients saw "disconnected without sending a response")."""
    host, port = url.removeprefix("http://").split(":")
    body = b'{"code": "print(6 * 7)", "language": "python"}'
    request = b"POST /run_code HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        answers = []
        for wait in (0, 6):
            time.sleep(wait)
            sock.sendall(request)
            head, body_ = read_response(sock, f"the server closed the connection after {wait} s idle")
            answers.append((head.split(b"\r\n", 1)[0], json.loads(body_)["run_result"]["stdout"]))
    assert answers == [(b"HTTP/1.1 200 OK", "42\n")] * 2


def read_response(sock: socket.socket, closed: str) -> tuple[bytes, bytes]:
    """One HTTP/1.1 answer off a kept-alive connection: its head and its body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock, closed, data)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().partition(b"content-length: ")[2].split(b"\r\n")[0])
    while len(body) < length:
        body += _recv(sock, closed, head + body)
    return head, body


def _recv(sock: socket.socket, closed: str, so_far: bytes) -> bytes:
    chunk = sock.recv(65536)
    assert chunk, f"{closed}: {so_far!r}"
    return chunk


def metric_lines(url: str, headers: dict | None = None) -> dict[str, float]:
    resp = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    return {name: float(value) for name, _, value in (line.rpartition(" ") for line in resp.text.splitlines())
            if name and not name.startswith("#")}


def test_metrics_count_known_requests():
    with served("--sandbox", "local", "--workers", "2") as srv:
        for body in ({"code": "print(1)"}, {"code": "print(2)"}, {"code": "raise SystemExit(2)"},
                     {"code": "1", "language": "go"}, {"code": "1", "memory_limit_MB": 1}):
            post(srv.url, **body)
        post(srv.url, code="print(3)")
        lines = metric_lines(srv.url)
    counts = {k: v for k, v in lines.items() if k.startswith("codeharness_requests_total")}
    assert counts == {
        'codeharness_requests_total{code="200",endpoint="run_code",status="Success"}': 3.0,
        'codeharness_requests_total{code="200",endpoint="run_code",status="Failed"}': 1.0,
        'codeharness_requests_total{code="200",endpoint="run_code",status="SandboxError"}': 1.0,
        'codeharness_requests_total{code="400",endpoint="run_code",status="bad_request"}': 1.0}
    assert lines['codeharness_request_seconds_count{endpoint="run_code"}'] == 6.0
    assert lines['codeharness_request_seconds_bucket{endpoint="run_code",le="+Inf"}'] == 6.0
    assert (lines["codeharness_queue_depth"], lines["codeharness_running"], lines["codeharness_lanes"]) == (0, 0, 2)


def one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_a_public_host_needs_an_api_key():
    err = one_line_error(harness("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--sandbox", "local",
                                 timeout=60))
    assert "--host 0.0.0.0 is reachable from other machines" in err and "--api-key-env" in err


def test_an_unset_api_key_variable_is_refused():
    env = {k: v for k, v in os.environ.items() if k != "CODEHARNESS_TEST_NO_SUCH_KEY"}
    err = one_line_error(harness("serve", "--api-key-env", "CODEHARNESS_TEST_NO_SUCH_KEY", "--port",
                                 str(free_port()), "--sandbox", "local", env=env, timeout=60))
    assert err == "error: --api-key-env CODEHARNESS_TEST_NO_SUCH_KEY: that environment variable is not set or " \
                  "empty\n"


def test_a_taken_port_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = one_line_error(harness("serve", "--port", str(port), "--sandbox", "local", timeout=60))
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: "), err
    assert "in use" in err


def test_api_key():
    env = {**os.environ, "CODEHARNESS_TEST_KEY": "s3cret-key"}
    with served("--host", "0.0.0.0", "--api-key-env", "CODEHARNESS_TEST_KEY", "--sandbox", "local",
                "--workers", "1", env=env) as srv:
        body = {"code": "print('in')", "language": "python"}
        for headers, params in (({}, {}), ({"Authorization": "Bearer wrong"}, {}), ({}, {"api_key": "wrong"}),
                                ({"Authorization": "s3cret-key"}, {})):
            resp = httpx.post(f"{srv.url}/run_code", json=body, headers=headers, params=params, timeout=30)
            assert (resp.status_code, resp.headers["www-authenticate"]) == (401, "Bearer"), (headers, params)
            assert resp.json() == {"detail": "missing or wrong API key (Authorization: Bearer KEY)"}
        assert httpx.get(f"{srv.url}/metrics", timeout=30).status_code == 401
        for headers, params in (({"Authorization": "Bearer s3cret-key"}, {}), ({}, {"api_key": "s3cret-key"})):
            resp = httpx.post(f"{srv.url}/run_code", json=body, headers=headers, params=params, timeout=30)
            assert resp.status_code == 200, resp.text
            assert resp.json()["run_result"]["stdout"] == "in\n"
        assert httpx.get(f"{srv.url}/v1/ping", timeout=30).json() == "pong"
        lines = metric_lines(srv.url, {"Authorization": "Bearer s3cret-key"})
    assert lines['codeharness_requests_total{code="200",endpoint="run_code",status="Success"}'] == 2.0


SLEEPER = {"code": "import time\ntime.sleep(1)\nprint('slept')\n", "language": "python", "run_timeout": 2}


def overload(url: str, retry: bool) -> list[httpx.Response]:
    """40 requests (5x the queue) at once; with ``retry``, each 504 is sent again after
    its Retry-After, as verl does. Every request's last answer."""
    def one(_: int) -> httpx.Response:
        # A client per caller, as verl's threads have: a client shared by 40 threads can
        # close a connection it has just handed to another thread (encode/httpcore#1110),
        # which fails the caller with EBADF whatever the server does.
        with httpx.Client(timeout=60) as client:
            for _ in range(100):
                resp = client.post(f"{url}/run_code", json=SLEEPER)
                if not (retry and resp.status_code == 504):
                    return resp
                time.sleep(int(resp.headers["retry-after"]))
        raise AssertionError("still refused after 100 tries")

    with ThreadPoolExecutor(40) as pool:
        return list(pool.map(one, range(40)))


def assert_slept(resp: httpx.Response) -> None:
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert (answer["status"], answer["run_result"]["stdout"]) == ("Success", "slept\n"), answer


@pytest.mark.slow
def test_overload_every_request_answered():
    with served("--sandbox", "local", "--workers", "2", "--queue", "8") as srv:
        answers = overload(srv.url, retry=False)
        refused = [r for r in answers if r.status_code == 504]
        for resp in refused:
            assert int(resp.headers["retry-after"]) >= 1, resp.headers
            assert resp.json()["detail"].startswith("overloaded: "), resp.text
        for resp in answers:
            if resp.status_code != 504:
                assert_slept(resp)
        assert len(answers) - len(refused) >= 2, [r.status_code for r in answers]  # at least the lanes ran
        lines = metric_lines(srv.url)
        ok = lines['codeharness_requests_total{code="200",endpoint="run_code",status="Success"}']
        assert (ok, sum(v for k, v in lines.items() if k.startswith("codeharness_rejected_total"))) == \
            (len(answers) - len(refused), len(refused))
        # Retried as verl does, every one of them runs in the end.
        for resp in overload(srv.url, retry=True):
            assert_slept(resp)
