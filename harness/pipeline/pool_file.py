"""``pool.yaml``: the models of a run, validated on load. Every error names the file,
the model and the field, so a typo never surfaces as a traceback mid-run."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import UserError
from ..providers import PROVIDERS
from ..providers.spec import GenParams, ModelSpec, Price

COMMON_FIELDS = {"name", "provider", "price", "temperature", "top_p", "max_tokens", "n", "stop", "concurrency",
                 "prompt_style", "prompt_template"}


class _Fields:
    """Typed access to one model's mapping; errors name file, model and field."""

    def __init__(self, raw: dict, where: str) -> None:
        self.raw, self.where = raw, where

    def fail(self, key: str, message: str) -> UserError:
        return UserError(f"{self.where}: field '{key}': {message}")

    def number(self, key: str, default: float, lo: float, hi: float = math.inf) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not lo <= value <= hi:
            bound = f"between {lo} and {hi}" if hi != math.inf else f">= {lo}"
            raise self.fail(key, f"must be a number {bound}, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int, lo: int = 1) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise self.fail(key, f"must be an integer >= {lo}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.raw.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value


def _price(f: _Fields) -> Price:
    """Required, both parts: a cost-aware router must never read a forgotten price as
    free. ``price: 0`` (or 0 for each part) declares a free model."""
    shape = "a number or {input: USD/Mtok, output: USD/Mtok}"
    if "price" not in f.raw:
        raise f.fail("price", f"missing: USD per million tokens, {shape} (0 for a free model)")
    raw = f.raw["price"]
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = f.number("price", 0.0, 0.0)  # a bare number's error names no part the user did not write
        return Price(value, value)
    if not isinstance(raw, dict) or set(raw) - {"input", "output"}:
        raise f.fail("price", f"must be {shape}")
    sub = _Fields(raw, f.where + ": field 'price'")
    values = []
    for key in ("input", "output"):
        if key not in raw:
            raise sub.fail(key, "missing: USD per million tokens (0 if free)")
        values.append(sub.number(key, 0.0, 0.0))
    return Price(*values)


def _stop(f: _Fields) -> tuple[str, ...]:
    value = f.raw.get("stop", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise f.fail("stop", "must be a string or a list of non-empty strings")
    return tuple(value)


def _prompt_style(f: _Fields, chat: bool) -> str:
    """The style asked for; ``default`` is the field's chat prompt (``instruct``) for a
    model sent chat messages, the benchmark's prompt to continue otherwise."""
    from benchmarks import BENCHMARKS

    style = f.text("prompt_style", "default")
    styles = sorted({"default"} | {st for b in BENCHMARKS.values() for st in b.prompt_styles})
    if style not in styles:
        raise f.fail("prompt_style", f"unknown style {style!r}; choose from {', '.join(styles)}")
    if style == "default":
        return "instruct" if chat else "completion"
    return style


def _prompt_template(f: _Fields, base_dir: Path) -> str | None:
    """The template's text: inline, or read from ``{file: PATH}`` (relative to the pool file)."""
    from benchmarks.prompts import template_error

    raw, where = f.raw.get("prompt_template"), ""
    if raw is None:
        return None
    if isinstance(raw, dict) and set(raw) == {"file"} and isinstance(raw["file"], str) and raw["file"]:
        path = base_dir / Path(raw["file"]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise f.fail("prompt_template", f"no such file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise f.fail("prompt_template", f"cannot read {path} ({exc})") from None
        where = f" (file {path})"
    elif isinstance(raw, str) and raw.strip():
        text = raw
    else:
        raise f.fail("prompt_template", "must be a template string or {file: PATH} (relative to the pool file)")
    error = template_error(text)
    if error:
        raise f.fail("prompt_template", error + where)
    return text


def parse_model(raw: object, path: Path, index: int) -> ModelSpec:
    if not isinstance(raw, dict):
        raise UserError(f"{path}: models[{index}]: each model must be a mapping, got {type(raw).__name__}")
    f = _Fields(raw, f"{path}: models[{index}]")
    name = f.text("name")
    if name is None:
        raise f.fail("name", "missing")
    f.where = where = f"{path}: model {name!r}"
    provider = f.text("provider")
    if provider is None:
        raise f.fail("provider", f"missing; choose from {', '.join(PROVIDERS)}")
    if provider not in PROVIDERS:
        raise f.fail("provider", f"unknown provider {provider!r}; choose from {', '.join(PROVIDERS)}")
    cls = PROVIDERS[provider]
    unknown = set(raw) - COMMON_FIELDS - set(cls.fields) - set(cls.required)
    if unknown:
        raise f.fail(sorted(unknown)[0], f"unknown field for provider {provider!r} (it takes: "
                                         f"{', '.join(sorted(COMMON_FIELDS | set(cls.fields) | set(cls.required)))})")
    for key in cls.required:
        if key not in raw:
            raise f.fail(key, f"missing (provider {provider!r} needs it)")
    params = GenParams(temperature=f.number("temperature", 0.0, 0.0, 2.0), top_p=f.number("top_p", 1.0, 0.0, 1.0),
                       max_tokens=f.integer("max_tokens", 1024), n=f.integer("n", 1), stop=_stop(f))
    options = {k: raw[k] for k in (*cls.required, *cls.fields) if k in raw}
    spec = ModelSpec(name=name, provider=provider, price=_price(f), params=params, options=options,
                     concurrency=f.integer("concurrency", cls.default_concurrency),
                     prompt_style=_prompt_style(f, cls.chat(options)),
                     prompt_template=_prompt_template(f, path.parent), origin=where)
    return cls.normalize(spec, f.fail, path.parent)


def load_pool(path: str | Path) -> list[ModelSpec]:
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such pool file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise UserError(f"{path}:{at} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    models = data.get("models") if isinstance(data, dict) else data
    if not isinstance(models, list) or not models:
        raise UserError(f"{path}: expected a non-empty list of models (top-level list or `models:`)")
    specs = [parse_model(raw, path, i) for i, raw in enumerate(models)]
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"{path}: model name {dupes[0]!r} appears more than once")
    return specs
