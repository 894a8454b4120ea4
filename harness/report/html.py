"""``report html``: the figures of a ``ReportData`` with a table of their numbers
under each, in one self-contained HTML file (SVG inline, no script, no network), and
each figure as PNG and PDF. Rendered into a temporary directory next to the target
and renamed into place: a failure leaves nothing half-written."""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from routers import analysis as A

from ..errors import UserError
from . import data as D
from .source import ReportData

CSS = """body{font-family:"DejaVu Sans",Verdana,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}figure{margin:1em 0}
figure svg{max-width:100%;height:auto}figcaption{font-size:.9em;color:#444;margin:.3em 0}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:left}th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}"""


class Page:
    """The sections and figures as they are added; figures are rendered (to SVG,
    PNG and PDF) as they come, with a progress line."""

    def __init__(self, fig_dir: Path, total: int, log) -> None:
        self.parts: list[str] = []
        self.fig_dir, self.total, self.done, self.log = fig_dir, total, 0, log

    def section(self, title: str, text: str = "") -> None:
        self.parts.append(f"<h2>{_e(title)}</h2>" + (f"<p>{_e(text)}</p>" if text else ""))

    def figure(self, name: str, title: str, caption: str, make) -> None:
        from .figures import save

        self.done += 1
        self.log(f"report: figure {self.done}/{self.total}: {name}")
        fig = make()
        for fmt in ("png", "pdf"):
            (self.fig_dir / f"{name}.{fmt}").write_bytes(save(fig, fmt))
        svg = save(fig, "svg").decode()
        svg = svg[svg.index("<svg"):]  # no XML declaration or DOCTYPE inside HTML
        svg = re.sub(r"<svg ", f'<svg role="img" aria-labelledby="{name}-title" ', svg, count=1)
        svg = re.sub(r"(<svg [^>]*>)", rf'\1<title id="{name}-title">{_e(title)}</title>', svg, count=1)
        self.parts.append(f'<figure id="{name}">{svg}<figcaption><b>{_e(title)}.</b> {_e(caption)} '
                          f'(<a href="fig/{name}.png">PNG</a>, <a href="fig/{name}.pdf">PDF</a>)'
                          "</figcaption></figure>")

    def table(self, columns: list[str] | None, rows: list[list]) -> None:
        """``columns`` None: a key-value table (the first column is the header)."""
        head = "" if columns is None else "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>"
        body = "".join("<tr>" + "".join(f"<th>{_e(v)}</th>" if columns is None and i == 0 else _td(v)
                                        for i, v in enumerate(row)) + "</tr>" for row in rows)
        self.parts.append(f"<table>{head}{body}</table>")

    def text(self, markup: str) -> None:
        self.parts.append(markup)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _td(v) -> str:
    number = isinstance(v, (int, float, np.integer, np.floating, tuple)) and not isinstance(v, bool)
    return f'<td class="n">{_e(_cell(v))}</td>' if number else f"<td>{_e(_cell(v))}</td>"


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "-"
        return f"{v:.3e}" if 0 < abs(v) < 1e-2 else f"{v:.4f}"
    if isinstance(v, tuple):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return str(v)


def render(data: ReportData, out: str | Path, log=lambda m: print(m, file=sys.stderr)) -> Path:
    """Write ``out/index.html`` and ``out/fig/*``; ``out`` is replaced whole (it must
    be a report written before, or absent, or empty)."""
    target = Path(out)
    if target.exists() and not (target.is_dir() and (not any(target.iterdir()) or (target / "index.html").is_file())):
        raise UserError(f"{target}: exists and is not a report directory; choose another --out")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would be the report's mode after the rename
    except OSError as exc:
        raise UserError(f"{target}: cannot create ({exc.strerror or exc})") from None
    try:
        (tmp / "fig").mkdir()
        import matplotlib

        from .figures import STYLE

        with matplotlib.rc_context(STYLE):
            page = _build(data, tmp / "fig", log)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            try:
                tmp.rename(target)
            except OSError:
                old.rename(target)  # the previous report stays as it was
                raise
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise UserError(f"{target}: cannot write the report ({exc.strerror or exc})") from None
        raise
    return target / "index.html"


def figure_count(data: ReportData) -> int:
    have_costs = data.costs is not None
    return 2 + have_costs + 3 * (data.samples is not None) + 2 * (data.routers is not None)


def _build(data: ReportData, fig_dir: Path, log) -> str:
    from . import figures as F

    models = A.by_price(list(data.scores.columns), data.prices)
    short, style = D.short_names(models), F.colours(models)
    page = Page(fig_dir, figure_count(data), log)
    notes = list(data.notes)
    page.section("Run summary")
    page.table(None, [[k, v] for k, v in data.summary])
    page.table(["model (figures)", "model", "input USD / Mtok", "output USD / Mtok"],
               [[short[m], m, data.input_prices[m] if data.input_prices else "-",
                 data.prices[m] if data.prices else "-"] for m in models])

    complete = {}
    for d in D.datasets_of(data.scores):
        r = A.restrict(data.scores.loc[d])
        if r.dropped_models or r.dropped_problems:
            notes.append(f"{d}: " + "; ".join(filter(None, [
                f"models without any score left out: {', '.join(r.dropped_models)}" if r.dropped_models else "",
                f"{r.dropped_problems} problems with a missing cell left out of the plane and the gap"
                if r.dropped_problems else ""])))
        if r.scores.empty:
            notes.append(f"{d}: no problem is scored by every model: left out of the plane and the gap")
        else:
            complete[d] = r.scores
    if not complete:
        raise UserError(f"{data.name}: no dataset with a complete score matrix (every problem misses some model)")

    if data.costs is not None:
        planes = {d: {**D.model_points(s, data.costs.loc[d], data.prices), "n": len(s)} for d, s in complete.items()}
        page.section("Cost-quality plane", "Single models per dataset on every problem scored by all of them.")
        page.figure("cost-quality", "Cost-quality plane of the single models",
                    "Mean pass rate against mean USD per problem (log scale; $0, a free model, at the tick \"$0\" left "
                    "of the dotted break), 95 % bootstrap CIs over problems; "
                    "SBS ringed, oracle starred (per problem the cheapest best model), the models' Pareto front "
                    "dashed.", lambda: F.plane(planes, short, style))
        page.table(["dataset", "point", "quality", "quality CI", "USD per problem", "USD CI", "on front"],
                   [[d, short[q["model"]] + (" (SBS)" if q["model"] == p["sbs"] else ""), q["quality"],
                     q["quality_ci"], q["cost"], q["cost_ci"], "yes" if q["model"] in p["front"] else ""]
                    for d, p in planes.items() for q in p["points"]]
                   + [[d, "oracle", p["oracle"]["quality"], p["oracle"]["quality_ci"], p["oracle"]["cost"],
                       p["oracle"]["cost_ci"], ""] for d, p in planes.items()])
        page.table(["dataset", "Pareto front (models)", "front area"],
                   [[d, ", ".join(short[m] for m in p["front"]), p["front_area"]] for d, p in planes.items()])

    if data.routers is not None:
        _routers(page, data, models, short, style)

    bars = {d: D.gap_bars(s, data.prices, None if data.costs is None else data.costs.loc[d])
            for d, s in complete.items()}
    page.section("Oracle gap per dataset")
    page.figure("oracle-gap", "Oracle gap per dataset",
                "Mean pass rate of every model (SBS hatched) and of the oracle (per problem the best model), 95 % "
                "bootstrap CIs; OG = oracle - SBS with its CI (problems resampled jointly).",
                lambda: F.gap(bars, short, style))
    page.table(["dataset", "n", "SBS", "SBS mean", "oracle", "oracle CI", "OG", "OG CI", "WCR", "WCR strict"],
               [[d, b["n"], short[b["sbs"]], b["sbs_mean"], b["oracle"], b["oracle_ci"], b["og"], b["og_ci"],
                 b["wcr"], b["wcr_strict"]] for d, b in bars.items()])
    page.table(["dataset", "model", "mean", "CI"],
               [[d, short[x["model"]], x["mean"], x["ci"]] for d, b in bars.items() for x in b["bars"]])

    pictures = {d: D.matrix_picture(data.scores.loc[d], data.prices) for d in D.datasets_of(data.scores)}
    page.section("Pass matrix")
    page.figure("pass-matrix", "Pass matrix per dataset",
                "Cell = pass rate over the model's samples of the problem; models cheapest on top, problems from "
                "easiest (left) to hardest; grey = no scored sample. Columns with bright cells over a dark SBS row "
                "are the oracle's headroom.", lambda: F.pass_matrix(pictures, short))
    page.table(["dataset", "problems", "no model passes", "every model always passes", "model choice matters",
                "missing cells"], [[d, *D.headroom(p).values()] for d, p in pictures.items()])

    if data.samples is not None:
        _samples(page, data.samples, models, short, style)
    page.section("Left out")
    page.text("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes else "<p>Nothing.</p>")
    title = _e(f"codeharness report: {source_title(data.name)}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{CSS}</style></head><body>"
            f"<h1>{title}</h1>" + "\n".join(page.parts) + "</body></html>\n")


MAX_TITLE_CHARS = 100  # past this a title names the first sources and counts the rest


def source_title(spec: str) -> str:
    """The sources' names joined by " + " (a comma-separated spec names several; a
    path that exists is one even with a comma in it)."""
    parts = [spec] if Path(spec).exists() else [p.strip() for p in spec.split(",") if p.strip()] or [spec]
    names = [Path(p).name or p for p in parts]
    title = " + ".join(names)
    for shown in range(len(names) - 1, 0, -1):
        if len(title) <= MAX_TITLE_CHARS:
            break
        title = " + ".join(names[:shown]) + f" + {len(names) - shown} more"
    return title


def _routers(page: Page, data: ReportData, models: list[str], short: dict, style: dict) -> None:
    from . import figures as F

    points = D.router_points(data.routers)
    curves = D.router_curves(points)
    page.section("Routers", "`route compare` on its test split: routers and single models, scored alike.")
    page.figure("routers-cost-quality", "Cost-quality plane of the routers",
                "Quality against USD per problem (log scale; $0 at the tick \"$0\" left of the dotted break) on the "
                "test split, 95 % bootstrap CIs where compare "
                "gives them (routers); variants of one router (CoDyn's lambda, the cascade's chains) joined; the "
                "oracle reads the answers (an upper bound); hollow = partial coverage; front dashed.",
                lambda: F.router_plane(points, curves, short))
    page.table(["router", "quality", "quality CI", "USD per problem", "USD CI", "on front", "partial"],
               [[p["name"], p["quality"], p["quality_ci"] or "-", p["cost"], p["cost_ci"] or "-",
                 "yes" if p["on_front"] else "", "yes" if p["partial"] else ""] for p in points])
    rows = D.router_usage(data.routers, models, data.prices)
    page.figure("router-usage", "Model usage per router",
                "Share of the test problems each router sends to each model; for executing routers (the cascade) "
                "the escalation rate (the cascade's own; else the share routed past the cheapest model) and the "
                "programs it executed.",
                lambda: F.usage(rows, short, style))
    page.table(["router", *[short[m] for m in models], "escalation", "executions", "executions per problem"],
               [[r["router"], *[r["shares"][m] for m in models], r.get("escalation", "-"),
                 r.get("executions", "-"), r.get("executions_per_problem", "-")] for r in rows])


def _samples(page: Page, samples, models: list[str], short: dict, style: dict) -> None:
    from . import figures as F

    counts = D.status_counts(samples, models)
    page.section("Verdicts, pass@k, tokens and cost per sample")
    page.figure("statuses", "Verdicts per model", "Share of each model's samples per verdict, every dataset.",
                lambda: F.statuses(counts, short))
    page.table(["model", *counts.columns], [[short[m], *row] for m, row in zip(counts.index, counts.values.tolist(),
                                                                                strict=True)])
    curves = D.pass_at_k_curves(samples, models)
    page.figure("pass-at-k", "pass@k per model", "Unbiased pass@k estimate (Chen et al.) for k = 1 .. n samples.",
                lambda: F.pass_at_k(curves, short, style))
    top = max(len(t.columns) for t in curves.values())
    page.table(["dataset", "model", *[f"pass@{k}" for k in range(1, top + 1)]],
               [[d, short[m], *row, *[math.nan] * (top - len(row))] for d, t in curves.items()
                for m, row in zip(t.index, t.values.tolist(), strict=True)])
    tokens, cost = D.per_sample(samples, models, "tokens_out"), D.per_sample(samples, models, "cost")
    page.figure("tokens-cost", "Output tokens and USD per sample",
                "Box plots per model (box: quartiles, line: median, whiskers: 1.5 IQR), log scales.",
                lambda: F.distributions(tokens, cost, short, style))
    keys = ["n", "min", "q1", "median", "q3", "max", "mean"]
    page.table(["model", "per sample", *keys],
               [[short[m], what, *[D.quantiles(v[m]).get(k, "-") for k in keys]]
                for m in models for what, v in (("output tokens", tokens), ("USD", cost))])
