"""Base for in-process engines (vLLM, transformers): concurrent ``generate`` calls
are gathered into one batch per engine call, run in a thread so the event loop (and
the sandbox executions it feeds) keeps going."""

from __future__ import annotations

import asyncio
from abc import abstractmethod

from .base import Generation, GenerationError, Provider, ProviderError, Task


class BatchedProvider(Provider):
    default_concurrency = 16  # how many samples wait to be batched

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self.batch_size = int(spec.options.get("batch_size", 8))
        self._pending: list[tuple[Task, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._engine = None

    @abstractmethod
    def load(self):
        """The engine (called once, in a thread)."""

    @abstractmethod
    def run_batch(self, engine, tasks: list[Task]) -> list[Generation]:
        """One generation per task, in order (in a thread); an exception fails the batch's samples."""

    async def start(self) -> None:
        try:
            self._engine = await asyncio.to_thread(self.load)
        except ImportError as exc:
            raise ProviderError(f"{self.spec.origin}: provider {self.spec.provider!r} needs `{exc.name}` "
                                f"(pip install 'codeharness[{self.extra}]')") from None
        except Exception as exc:
            raise ProviderError(f"{self.spec.origin}: cannot load the model: {exc.__class__.__name__}: {exc}") from None

    async def generate(self, task: Task) -> Generation:
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((task, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the other ready generate() calls join this batch
        while self._pending:
            batch, self._pending = self._pending[:self.batch_size], self._pending[self.batch_size:]
            try:
                results = await asyncio.to_thread(self.run_batch, self._engine, [t for t, _ in batch])
            except Exception as exc:
                for _, fut in batch:
                    fut.set_exception(GenerationError(f"{exc.__class__.__name__}: {exc}"))
                continue
            for (_, fut), gen in zip(batch, results, strict=True):
                fut.set_result(gen)
