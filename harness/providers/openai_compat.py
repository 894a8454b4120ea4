"""``openai``: any OpenAI-compatible endpoint (OpenAI, vLLM's and llama.cpp's servers,
SGLang, TGI...), through the official ``openai`` SDK. The SDK retries 408/409/429/5xx,
timeouts and dropped connections with exponential backoff and jitter; we set how
often. What still fails after that stops the run (nothing stored is lost; a re-run
resumes); a request the server rejects as such (400/422, e.g. a prompt longer than
the context) is recorded as that sample's ``generation_error``.

``base_url`` may list several servers of the same model: requests are spread over
them (``servers``); one that fails is taken out for a while and its requests go to
the others, so a run stops only when no server answers."""

from __future__ import annotations

import math
import os
import sys
import time

from benchmarks.extract import split_thinking

from .base import Generation, GenerationError, Provider, ProviderError, Task, estimated_thinking
from .servers import Server, ServerSet

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# With several servers a failing one is left after fewer retries: the others answer.
MULTI_SERVER_RETRIES = 1


class OpenAICompatible(Provider):
    required = ("model",)
    fields = ("base_url", "api_key_env", "api", "system", "timeout", "max_retries", "extra_body")
    identity_fields = ("model", "api", "system", "extra_body")
    default_concurrency = 4

    @classmethod
    def chat(cls, options):
        return options.get("api", "chat") == "chat"

    @classmethod
    def normalize(cls, spec, fail, base_dir):
        opts = spec.options
        if not isinstance(opts["model"], str) or not opts["model"]:
            raise fail("model", "must be the served model's name")
        urls = opts.get("base_url", DEFAULT_BASE_URL)
        urls = urls if isinstance(urls, list) else [urls]
        if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
            raise fail("base_url", f"must be an http(s) URL or a list of them, got {opts.get('base_url')!r}")
        if len(set(urls)) != len(urls):
            raise fail("base_url", "lists a server twice")
        if opts.get("api", "chat") not in ("chat", "completions"):
            raise fail("api", "must be 'chat' (chat/completions) or 'completions'")
        env = opts.get("api_key_env")
        if env is not None and not os.environ.get(env):
            raise fail("api_key_env", f"environment variable {env} is not set")
        for key in ("timeout", "max_retries"):
            value = opts.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value < 0):
                raise fail(key, f"must be a number >= 0, got {value!r}")
        if not isinstance(opts.get("extra_body", {}), dict):
            raise fail("extra_body", "must be a mapping")
        return spec

    def __init__(self, spec) -> None:
        super().__init__(spec)
        import openai

        opts = spec.options
        urls = opts.get("base_url", DEFAULT_BASE_URL)
        urls = [str(u).rstrip("/") for u in (urls if isinstance(urls, list) else [urls])]
        env = opts.get("api_key_env")
        retries = int(opts.get("max_retries", 6 if len(urls) == 1 else MULTI_SERVER_RETRIES))
        # Local servers take any key; the SDK insists on one.
        self.pool = ServerSet([Server(u, openai.AsyncOpenAI(base_url=u, api_key=os.environ[env] if env else "none",
                                                             timeout=float(opts.get("timeout", 600)),
                                                             max_retries=retries)) for u in urls],
                              retryable=(openai.APIConnectionError, openai.InternalServerError,
                                         openai.RateLimitError))
        self.api = opts.get("api", "chat")

    @property
    def base_url(self) -> str:
        """Who answered (or failed), for messages: the server, or every server of the set."""
        urls = [s.url for s in self.pool.servers]
        return urls[0] if len(urls) == 1 else f"every server ({', '.join(urls)})"

    def _fatal(self, exc: Exception, url: str | None = None) -> ProviderError:
        import openai

        where = url or self.base_url
        hint = _v1_hint(url or self.pool.servers[0].url) if url or len(self.pool.servers) == 1 else None
        if isinstance(exc, openai.APITimeoutError):
            what = f"{where} did not answer within {self.pool.servers[0].client.timeout} s"
        elif isinstance(exc, openai.APIConnectionError):
            what = f"cannot reach {where} ({exc.__cause__ or exc})"
        elif isinstance(exc, openai.APIStatusError):
            what = f"{where} answered HTTP {exc.status_code}: {_message(exc)}"
            if exc.status_code == 404 and hint:
                what += f" (field 'base_url' has no /v1: did you mean {hint}?)"
        elif not isinstance(exc, openai.OpenAIError):  # the body did not parse as the protocol says
            what = f"{where} returned an invalid response ({exc.__class__.__name__}: {str(exc)[:200]})"
        else:
            what = f"{exc.__class__.__name__}: {exc}"
        return ProviderError(f"{self.spec.origin}: {what}")

    async def start(self) -> None:
        """One cheap request to every server first, so a wrong URL or key fails in a
        second, not after the backoff of every sample. Of several servers, those that do
        not answer are left out for now (and tried again later); all silent fails."""
        down = []
        for server in self.pool.servers:
            try:
                await self._check(server)
            except _Unreachable as exc:
                self.pool.mark_down(server)
                down.append(exc.error)
        if len(down) == len(self.pool.servers):
            raise down[0]
        for error in down:
            print(f"note: {error}; its requests go to the other servers", file=sys.stderr)

    async def _check(self, server: Server) -> None:
        import openai

        try:
            await server.client.with_options(max_retries=0, timeout=10).models.list()
        except openai.NotFoundError:
            # Some compatible servers have no /models (the first generation tells); most
            # that 404 here were given their root URL, without the API's /v1.
            hint = _v1_hint(server.url)
            if hint and await _answers(server.client, hint):
                raise ProviderError(f"{self.spec.origin}: field 'base_url': {server.url}/models answered HTTP "
                                    f"404, {hint}/models answers: did you mean {hint}?") from None
        except Exception as exc:  # an OpenAIError, or a body that is not the protocol's
            raise _Unreachable(self._fatal(exc, server.url)) from None

    def servers(self) -> dict[str, dict] | None:
        return self.pool.stats() if len(self.pool.servers) > 1 else None

    def request(self, task: Task) -> dict:
        p, opts = self.spec.params, self.spec.options
        body = {"model": opts["model"], "temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens,
                "n": 1}
        if p.stop:
            body["stop"] = list(p.stop)
        if self.api == "chat":
            body["messages"] = task.messages(opts.get("system"))
        else:
            body["prompt"] = task.text
        if opts.get("extra_body"):
            body["extra_body"] = dict(opts["extra_body"])
        return body

    async def generate(self, task: Task) -> Generation:
        import openai

        body = self.request(task)
        start = time.monotonic()
        try:
            if self.api == "chat":
                resp, _ = await self.pool.call(lambda client: client.chat.completions.create(**body))
                message = resp.choices[0].message
                text = message.content or ""
                # vLLM's / SGLang's reasoning parsers return the thinking apart.
                reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None) or ""
            else:
                resp, _ = await self.pool.call(lambda client: client.completions.create(**body))
                text, reasoning = resp.choices[0].text or "", ""
            if not isinstance(text, str) or not isinstance(reasoning, str):
                raise TypeError("the completion text is not a string")
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            raise GenerationError(f"HTTP {exc.status_code}: {_message(exc)}") from None
        except Exception as exc:  # an OpenAIError, or a body that is not the protocol's
            raise self._fatal(exc) from None
        latency = time.monotonic() - start
        thinking, answer = split_thinking(text)
        thinking = "\n".join(filter(None, [reasoning, thinking]))
        usage = resp.usage
        details = getattr(usage, "completion_tokens_details", None) if usage else None
        think_tokens = getattr(details, "reasoning_tokens", None) if details else None
        extra = {"finish_reason": resp.choices[0].finish_reason}
        tokens_out = usage.completion_tokens if usage else None
        counted = {"thinking_tokens": think_tokens} if think_tokens is not None else \
            estimated_thinking(thinking, answer, tokens_out)  # the server did not count them
        return Generation(answer, tokens_in=usage.prompt_tokens if usage else None, tokens_out=tokens_out,
                          latency=latency, thinking=thinking, thinking_tokens=counted.get("thinking_tokens"),
                          extra={**extra, **counted.get("extra", {})})

    async def close(self) -> None:
        for server in self.pool.servers:
            await server.client.close()


class _Unreachable(Exception):
    """A server failed the start check (its ProviderError in ``error``)."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def _v1_hint(url: str) -> str | None:
    """The URL with the OpenAI API's ``/v1`` when it has none."""
    from urllib.parse import urlsplit

    return None if "/v1" in urlsplit(url).path else url + "/v1"


async def _answers(client, base_url: str) -> bool:
    try:
        await client.with_options(base_url=base_url, max_retries=0, timeout=10).models.list()
    except Exception:
        return False
    return True


def _message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        return str(err.get("message", err) if isinstance(err, dict) else err)[:300]
    return str(getattr(exc, "message", exc))[:300]
