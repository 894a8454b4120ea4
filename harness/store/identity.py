"""A model's identity (what pool.yaml defines it by, as stored with a run): its
normal form, a stored one as today's would be, and the fields in which two differ."""

from __future__ import annotations

import json
import re


def normal(identity: dict) -> dict:
    return json.loads(json.dumps(identity, sort_keys=True))


def resolved(stored: dict) -> dict:
    """A stored identity as today's would be: ``prompt_style: default`` (stored before
    styles resolved by the model's kind) sent the text ``completion`` sends now."""
    return stored | {"prompt_style": "completion"} if stored.get("prompt_style") == "default" else stored


SECRET = re.compile(r"key|token(?!s)|secret|passw|auth|credential", re.I)  # max_tokens is a count, no secret
MISSING = object()


def identity_changes(old: dict, new: dict) -> str:
    """The pool fields in which two model identities differ, as "field old -> new"
    (values shortened; a field named like a secret shows no value)."""
    def flat(identity: dict) -> dict:  # params / options are ours: the pool names their fields directly
        out = {k: v for k, v in normal(identity).items() if k not in ("params", "options")}
        out.update(normal(identity).get("params", {}))
        for k, v in normal(identity).get("options", {}).items():
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()} if isinstance(v, dict) else {k: v})
        return out

    def show(name: str, value) -> str:
        if value is MISSING:
            return "(unset)"
        if SECRET.search(name):
            return "(hidden)"
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    a, b = flat(old), flat(new)
    changed = [k for k in dict.fromkeys([*a, *b]) if a.get(k, MISSING) != b.get(k, MISSING)]
    return ", ".join(f"{k} {show(k, a.get(k, MISSING))} -> {show(k, b.get(k, MISSING))}" for k in changed)
