"""``GET /metrics``: Prometheus metrics of one server, in their own registry (two
servers in one process, as in tests, do not share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Programs take ms to the run timeout; answers of /run_tests and /submit longer.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, admission) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("codeharness_requests", "Requests answered, by endpoint, HTTP code and status",
                                ["endpoint", "code", "status"], registry=self.registry)
        self.latency = Histogram("codeharness_request_seconds", "Seconds from arrival to answer",
                                 ["endpoint"], buckets=BUCKETS, registry=self.registry)
        self.rejected = Counter("codeharness_rejected", "Requests refused before running (answered 504)",
                                ["reason"], registry=self.registry)
        queue = Gauge("codeharness_queue_depth", "Requests waiting for a lane", registry=self.registry)
        queue.set_function(lambda: admission.queued)
        running = Gauge("codeharness_running", "Requests handed to the lanes (running, or next at a lane)",
                        registry=self.registry)
        running.set_function(lambda: admission.running)
        lanes = Gauge("codeharness_lanes", "Requests the sandbox runs at once", registry=self.registry)
        lanes.set(admission.lanes)
        self._children: dict[tuple, tuple] = {}

    def observe(self, endpoint: str, code: int, status: str, seconds: float) -> None:
        # The labelled children, looked up once per label set: labels() costs more than
        # the counting itself, on every request.
        key = (endpoint, code, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(endpoint, str(code), status),
                                              self.latency.labels(endpoint))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
