"""``python -m harness serve``: the execution core as a SandboxFusion-compatible HTTP
service, for RL trainers' reward functions and anyone who speaks SandboxFusion.

``models`` (the wire formats, SandboxFusion's and ours), ``translate`` (a request to
``ExecRequest``s and verdicts back: pure functions), ``admission`` (the bounded queue in
front of the sandbox), ``metrics`` (Prometheus), ``datasets`` (``/submit``'s problems),
``app`` (the routes), ``fastpath`` (the ASGI layer in front of FastAPI: the API key,
and the hot routes without FastAPI's per-request cost), ``server`` (uvicorn, signals,
the sandbox's lifetime).
"""
