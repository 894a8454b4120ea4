"""The routes: SandboxFusion's (``/run_code``, ``/v1/ping``, ``/submit``,
``/list_datasets``) and ours (``/run_tests``, ``/metrics``), over one started sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from concurrent.futures import Future

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from sandboxes import Sandbox
from sandboxes.records import NOT_STARTED, ExecRequest, Status, Verdict

from . import datasets
from .admission import Admission, Overloaded
from .fastpath import FastPath
from .metrics import Metrics
from .models import RunCodeRequest, RunTestsRequest, RunTestsResponse, SubmitRequest
from .translate import (
    BadRequest,
    Policy,
    answer_budget,
    not_python,
    run_code_request,
    run_code_response,
    run_tests_requests,
    run_tests_response,
    sandbox_error,
)

log = logging.getLogger("harness.serve")
OPEN_PATHS = ("/v1/ping",)  # answered without the API key: liveness probes carry none
START_MARGIN = 0.5  # seconds: a program must start this much before its wall cap would pass the deadline


def create_app(sandbox: Sandbox, policy: Policy, queue_size: int, api_key: str | None = None,
               max_wait: float = 60.0) -> FastPath:
    """The service over ``sandbox`` (started by the caller, who also closes it): an
    ASGI application; ``.state.admission`` is its queue.

    Args:
        queue_size: requests that may wait for a lane; beyond it, 504 + Retry-After.
        api_key: when set, every route but ``/v1/ping`` wants ``Authorization: Bearer KEY``
            (or ``?api_key=KEY`` for clients that cannot send headers, like verl's).
        max_wait: seconds a request whose client states no deadline (``/run_tests``,
            ``/submit``) may wait for a lane.
    """
    # No /docs or /openapi.json: its POST routes are not FastAPI's (see fastpath), so
    # the schema would miss them; docs/serve.md is the reference.
    app = FastAPI(title="codeharness serve", docs_url=None, redoc_url=None, openapi_url=None)
    # Twice the workers handed over beyond them: one to send ahead to each worker, and
    # one waiting in the sandbox for when a worker looks for its next.
    admission = Admission(sandbox.size, queue_size, prefetch=2 * sandbox.size)
    metrics = Metrics(admission)
    app.state.admission = admission
    app.state.sandbox = sandbox

    async def execute(req: ExecRequest, start_by: float | None, due: float | None) -> Verdict:
        def start(began: float) -> Future[Verdict]:
            # Both count from the call: the sandbox may hold it behind another program.
            req_ = req if start_by is None else dataclasses.replace(req, start_within=max(0.0, start_by - began))
            if due is not None:
                req_ = dataclasses.replace(req_, limits=dataclasses.replace(req.limits, ceiling=due - began))
            try:
                return sandbox.submit(req_)
            except Exception as exc:  # closed under us: answered below like a failed call
                failed: Future[Verdict] = Future()
                failed.set_exception(exc)
                return failed

        try:
            return await admission.run(start, start_by)
        except Overloaded:
            raise
        except Exception as exc:  # the contract says never; a service still answers
            if not admission.closing:  # at a stop, closing the sandbox ends what runs (see stopped_or)
                log.error("the sandbox failed", exc_info=exc)
            return Verdict(status=Status.SANDBOX_ERROR, detail=f"sandbox failure: {exc}")

    async def run_all(reqs: list[ExecRequest], start_by: float | None, due: float | None,
                      until_failure: bool = False) -> list[Verdict]:
        """Their verdicts; ``until_failure``: one after another, none after the first that
        fails. Refused (``Overloaded``) as a whole: what else runs or waits is cancelled."""
        if until_failure or len(reqs) == 1:  # one needs no task of its own
            verdicts = []
            for req in reqs:
                verdicts.append(await execute(req, start_by, due))
                if not verdicts[-1].passed:
                    break
            return stopped_or(verdicts)
        tasks = [asyncio.ensure_future(execute(r, start_by, due)) for r in reqs]
        try:
            verdicts = list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return stopped_or(verdicts)

    def stopped_or(verdicts: list[Verdict]) -> list[Verdict]:
        """A program a stop ended, or one its worker could not start in time (it waited
        behind another there: ``NOT_STARTED``), has no verdict: its request is refused
        (504), which verl and SandboxFusion's client retry, never answered as a failure
        they would score 0."""
        if admission.closing and any(v.status is Status.SANDBOX_ERROR for v in verdicts):
            raise Overloaded("the server is stopping", 5)
        if any(v.status is Status.SANDBOX_ERROR and v.detail == NOT_STARTED for v in verdicts):
            raise Overloaded("waited for a lane past its deadline", admission.expected_wait())
        return verdicts

    def answer(model, endpoint: str, arrived: float, status: str, code: int = 200) -> Response:
        metrics.observe(endpoint, code, status, time.monotonic() - arrived)
        return Response(model.model_dump_json(), status_code=code, media_type="application/json")

    def refused(exc: Overloaded, endpoint: str, arrived: float) -> Response:
        metrics.rejected.labels(exc.reason.split(" (")[0]).inc()
        metrics.observe(endpoint, 504, "overloaded", time.monotonic() - arrived)
        return JSONResponse({"detail": f"overloaded: {exc.reason}; retry after {exc.retry_after} s"},
                            status_code=504, headers={"Retry-After": str(exc.retry_after)})

    def endpoint(model: type[BaseModel], name: str):
        """A POST route of the fast path: its body parsed as ``model`` (any content
        type); a body that does not fit is answered 422 as FastAPI would, a
        ``BadRequest`` 400, an ``Overloaded`` 504; every answer counted."""
        def wrap(fn):
            async def handler(body: bytes) -> Response:
                arrived = time.monotonic()
                try:
                    return await fn(model.model_validate_json(body), arrived)
                except ValidationError as exc:
                    metrics.observe(name, 422, "invalid", time.monotonic() - arrived)
                    return JSONResponse({"detail": validation_errors(exc)}, status_code=422)
                except BadRequest as exc:
                    metrics.observe(name, 400, "bad_request", time.monotonic() - arrived)
                    return JSONResponse({"detail": str(exc)}, status_code=400)
                except Overloaded as exc:
                    return refused(exc, name, arrived)
            return handler
        return wrap

    @app.get("/v1/ping")
    async def ping() -> str:
        return "pong"

    @endpoint(RunCodeRequest, "run_code")
    async def run_code(req: RunCodeRequest, arrived: float) -> Response:
        if message := not_python(req.language):
            return answer(sandbox_error(message, policy), "run_code", arrived, "SandboxError")
        due = arrived + answer_budget(req.compile_timeout, req.run_timeout, policy)
        exec_req = run_code_request(req, policy, ceiling=None)
        (verdict,) = await run_all([exec_req], due - req.run_timeout - START_MARGIN, due)
        resp = run_code_response(verdict, policy)
        return answer(resp, "run_code", arrived, resp.status.value)

    @endpoint(RunTestsRequest, "run_tests")
    async def run_tests(req: RunTestsRequest, arrived: float) -> Response:
        if message := not_python(req.language):
            resp = RunTestsResponse(status="SandboxError", message=message, accepted=False, reward=0.0, passed=0,
                                    total=len(req.cases), cases=[None] * len(req.cases))
            return answer(resp, "run_tests", arrived, "SandboxError")
        verdicts = await run_all(run_tests_requests(req, policy, None), arrived + max_wait, None,
                                 until_failure=not req.all_cases)
        resp = run_tests_response(req, verdicts)
        return answer(resp, "run_tests", arrived, resp.status.value)

    @app.get("/list_datasets")
    async def list_datasets() -> list[str]:
        return datasets.names()

    @endpoint(SubmitRequest, "submit")
    async def submit(req: SubmitRequest, arrived: float) -> Response:
        plan = datasets.plan(req, policy)
        verdicts = await run_all(plan.requests, arrived + max_wait, None)
        result = plan.finish(verdicts)
        return answer(result, "submit", arrived, "accepted" if result.accepted else "rejected")

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return FastPath(app, {"/run_code": run_code, "/run_tests": run_tests, "/submit": submit}, api_key, OPEN_PATHS)


def validation_errors(exc: ValidationError) -> list[dict]:
    """FastAPI's ``detail`` of a 422, without echoing the input (which may not even be
    JSON: a NaN)."""
    return [dict(e, loc=["body", *e["loc"]]) for e in json.loads(exc.json(include_url=False, include_input=False))]

