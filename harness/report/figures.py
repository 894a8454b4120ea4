"""The report's figures, drawn with matplotlib from ``data``'s numbers (never
recomputed here). Figures are made with ``Figure()`` (no pyplot state); ``STYLE``
fixes fonts, the SVG hash salt and the palette, so the same numbers give the same
bytes."""

from __future__ import annotations

import io

import numpy as np
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

# Okabe & Ito's palette: distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")
STATUS_COLOURS = {"passed": "#009E73", "failed": "#D55E00", "timeout": "#E69F00", "runtime_error": "#CC79A7",
                  "oom": "#0072B2", "output_limit": "#56B4E9", "syntax_error": "#F0E442", "sandbox_error": "#000000",
                  "not executed": "#BBBBBB"}
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "svg.hashsalt": "codeharness", "svg.fonttype": "path",
         "pdf.fonttype": 42, "axes.grid": True, "grid.alpha": 0.3, "axes.axisbelow": True, "savefig.dpi": 150,
         "image.interpolation": "nearest", "axes.prop_cycle": cycler(color=OKABE_ITO)}
METADATA = {"svg": {"Date": None, "Creator": None}, "pdf": {"CreationDate": None, "ModDate": None, "Creator": None,
                                                             "Producer": None},
            "png": {"Software": None}}


def colours(models: list[str]) -> dict[str, tuple[str, str]]:
    """Model -> (colour, marker), models in price order; past 8 the marker changes."""
    return {m: (OKABE_ITO[i % 8], MARKERS[(i // 8) % len(MARKERS)]) for i, m in enumerate(models)}


def save(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata=METADATA[fmt], bbox_inches="tight")
    return buf.getvalue()


def _err(value: float, interval, at=lambda v: v) -> list | None:
    return None if interval is None else [[at(value) - at(interval[0])], [at(interval[1]) - at(value)]]


class UsdAxis:
    """A log $ axis that also shows $0: a cost of 0 (a local model) is drawn at a
    ``free`` position a decade left of the smallest positive cost, its tick labelled
    "$0" and a dotted line marking the break; with no positive cost, one "$0" tick
    in the middle of a decade-wide axis."""

    def __init__(self, costs) -> None:
        positive = [c for c in costs if c > 0]
        self.any_free = len(positive) < len(costs)
        self.floor = min(positive) if positive else None
        self.free = self.floor / 10 if positive else 1.0

    def x(self, cost: float) -> float:
        return cost if cost > 0 else self.free

    def draw(self, ax) -> None:
        """Labelled at $0 and at 1, 2 and 5 of each decade, compactly (2e-4): the
        default labels of a narrow range overlap."""
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(_FreeLocator(self.free, self.floor))
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _: "$0" if np.isclose(v, self.free) else
            f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")))
        ax.xaxis.set_minor_formatter(NullFormatter())
        if self.floor is None:
            ax.set_xlim(self.free / 10 ** 0.5, self.free * 10 ** 0.5)
        elif self.any_free:
            ax.axvline(self.free * 10 ** 0.5, color="#999999", ls=":", lw=1)
            ax.set_xlim(left=self.free / 10 ** 0.25)


class _FreeLocator(LogLocator):
    """``LogLocator``'s ticks from half a decade right of ``free`` on (left of it the
    axis is no scale), and ``free`` itself; only ``free`` with no positive cost."""

    def __init__(self, free: float, floor: float | None) -> None:
        super().__init__(base=10, subs=(1.0, 2.0, 5.0))
        self.free, self.floor = free, floor

    def tick_values(self, vmin, vmax):
        if self.floor is None:
            return np.array([self.free])
        return np.array([self.free, *[t for t in super().tick_values(vmin, vmax) if t >= self.free * 10 ** 0.5]])


def _legend_right(axes) -> None:
    """One legend of every panel's entries, outside the last panel, right: it never
    covers a point."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    axes[-1].legend(list(entries.values()), list(entries), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                    frameon=False, fontsize=8)


def plane(panels: dict[str, dict], short: dict[str, str], style: dict) -> Figure:
    """Single models per dataset: points with CI bars, SBS ringed, oracle starred,
    the models' Pareto front as a step line; $ on a log axis."""
    fig = Figure(figsize=(4.2 * len(panels) + 2.2, 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (dataset, p) in zip(axes, panels.items(), strict=True):
        o = p["oracle"]
        usd = UsdAxis([q["cost"] for q in [*p["points"], o]])
        for q in p["points"]:
            colour, marker = style[q["model"]]
            ax.errorbar(usd.x(q["cost"]), q["quality"], xerr=_err(q["cost"], q["cost_ci"], usd.x),
                        yerr=_err(q["quality"], q["quality_ci"]), fmt=marker, color=colour, ms=6, capsize=2,
                        lw=0.8, label=short[q["model"]])
            if q["model"] == p["sbs"]:
                ax.plot(usd.x(q["cost"]), q["quality"], "o", ms=14, mfc="none", mec="black", mew=1.2, label="SBS")
        ax.errorbar(usd.x(o["cost"]), o["quality"], xerr=_err(o["cost"], o["cost_ci"], usd.x),
                    yerr=_err(o["quality"], o["quality_ci"]), fmt="*", color="black", ms=12, capsize=2,
                    lw=0.8, label="oracle")
        front = [next(q for q in p["points"] if q["model"] == name) for name in p["front"]]
        ax.step([usd.x(q["cost"]) for q in front], [q["quality"] for q in front], where="post", ls="--",
                color="#555555", lw=1, label="Pareto front (models)")
        usd.draw(ax)
        rate_axis(ax, [v for q in [*p["points"], o] for v in (q["quality"], *(q["quality_ci"] or ()))])
        ax.set_title(f"{dataset} (n = {p['n']})")
        ax.set_xlabel("USD per problem (mean per sample, log scale)")
        ax.set_ylabel("quality (mean pass rate)")
    _legend_right(axes)
    return fig


def router_plane(points: list[dict], curves: dict[str, list[dict]], short: dict[str, str]) -> Figure:
    """Routers and single models of `route compare` on its test split: models grey
    and labelled, routers coloured by router (variants joined as a curve), the oracle
    starred, the front as a step line."""
    fig = Figure(figsize=(8.5, 5.0))
    ax = fig.subplots()
    bases = list(dict.fromkeys(p["base"] for p in points if p["kind"] == "router"))
    # Black is the oracle's; colour and marker cycle at different lengths (7, 8), so up
    # to 56 routers each get their own pair.
    tint = {b: (OKABE_ITO[i % 7], MARKERS[i % len(MARKERS)]) for i, b in enumerate(bases)}
    usd = UsdAxis([p["cost"] for p in points])
    for b, ps in curves.items():
        ax.plot([usd.x(p["cost"]) for p in ps], [p["quality"] for p in ps], "-", color=tint[b][0], lw=1, alpha=0.7)
    labelled = set()
    for p in points:
        colour, marker, label = "#888888", "o", None
        if p["kind"] == "router":
            (colour, marker), label = tint[p["base"]], p["base"]
        elif p["kind"] == "oracle":
            colour, marker, label = "black", "*", p["name"]
        if label in labelled:
            label = None
        labelled.add(label)
        ax.errorbar(usd.x(p["cost"]), p["quality"], xerr=_err(p["cost"], p["cost_ci"], usd.x),
                    yerr=_err(p["quality"], p["quality_ci"]), fmt=marker, color=colour,
                    ms=11 if p["kind"] == "oracle" else 6, capsize=2, lw=0.8, label=label,
                    mfc="none" if p["partial"] else colour, zorder=2 if p["kind"] == "model" else 3)  # routers on top
        if p["kind"] == "model":
            ax.annotate(short.get(p["name"][6:], p["name"][6:]), (usd.x(p["cost"]), p["quality"]), xytext=(4, -9),
                        textcoords="offset points", fontsize=7, color="#555555")
    front = sorted((p for p in points if p["on_front"]), key=lambda p: p["cost"])
    if front:
        ax.step([usd.x(p["cost"]) for p in front], [p["quality"] for p in front], where="post", ls="--",
                color="#555555", lw=1, label="Pareto front")
    ax.plot([], [], "o", color="#888888", label="single model")
    usd.draw(ax)
    rate_axis(ax, [v for p in points for v in (p["quality"], *(p["quality_ci"] or ()))])
    ax.set_xlabel("USD per problem (test split, log scale)")
    ax.set_ylabel("quality (mean score, test split)")
    _legend_right([ax])
    return fig


def gap(panels: dict[str, dict], short: dict[str, str], style: dict) -> Figure:
    """Per dataset, every model's mean score and the oracle's, with CI bars; the SBS
    hatched."""
    rows = max(len(p["bars"]) for p in panels.values()) + 1
    # constrained: a panel's model names never run into the panel left of it
    fig = Figure(figsize=(4.0 * len(panels) + 1.5, 0.32 * rows + 1.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharex=True)[0]
    for ax, (dataset, p) in zip(axes, panels.items(), strict=True):
        bars = [("oracle", p["oracle"], p["oracle_ci"], "black")] + \
               [(b["model"], b["mean"], b["ci"], style[b["model"]][0]) for b in p["bars"]]
        y = np.arange(len(bars))[::-1]
        for yi, (name, mean, interval, colour) in zip(y, bars, strict=True):
            ax.barh(yi, mean, color=colour, hatch="///" if name == p["sbs"] else None, edgecolor="white",
                    xerr=_err(mean, interval), capsize=2, error_kw={"lw": 0.8})
        ax.set_yticks(y, [n if n == "oracle" else short[n] + (" (SBS)" if n == p["sbs"] else "")
                          for n, *_ in bars])
        ax.set_xlim(0, 1)
        ax.set_xlabel("mean pass rate")
        lo, hi = p["og_ci"]
        ax.set_title(f"{dataset}: OG = {p['og']:.3f} [{lo:.3f}, {hi:.3f}]", fontsize=9)
    return fig


def pass_matrix(pictures: dict, short: dict[str, str]) -> Figure:
    """One heat map per dataset: models (rows, cheapest on top) x problems (easiest
    left); grey = no scored sample."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#D9D9D9")
    rows = sum(len(p.columns) for p in pictures.values())
    names = {d: [_clip(str(p)) for p in picture.index[::problem_step(len(picture))]] for d, picture in pictures.items()}
    under = [0.06 * max(map(len, n), default=0) + 0.7 for n in names.values()]  # inches: rotated ids, the label
    # constrained: each panel's rotated ids and the next panel's title never overlap
    fig = Figure(figsize=(9.0, 0.22 * rows + 0.5 * len(pictures) + sum(under) + 0.3), layout="constrained")
    axes = fig.subplots(len(pictures), 1, squeeze=False,
                        height_ratios=[0.22 * len(p.columns) + u for p, u in zip(pictures.values(), under,
                                                                                  strict=True)])[:, 0]
    for ax, (dataset, picture) in zip(axes, pictures.items(), strict=True):
        image = ax.imshow(picture.T.to_numpy(dtype=float), aspect="auto", cmap=cmap, vmin=0, vmax=1)
        ax.set_yticks(range(len(picture.columns)), [short[m] for m in picture.columns], fontsize=7)
        step = problem_step(len(picture))
        ax.set_xticks(range(0, len(picture), step), names[dataset], rotation=90, fontsize=6)
        ax.grid(False)
        ax.set_title(f"{dataset}: pass rate per model and problem ({len(picture)} problems)", fontsize=9)
        ax.set_ylabel("model (cheapest on top)", fontsize=8)
        ax.set_xlabel("problem, easiest (highest mean pass over models) left"
                      + (f"; one id in {step} shown" if step > 1 else ""), fontsize=8)
        fig.colorbar(image, ax=ax, label="pass rate", fraction=0.03, pad=0.01)
    return fig


MAX_PROBLEM_TICKS = 60  # problem ids a 9-inch panel shows legibly (6 pt, rotated)
MAX_ID_CHARS = 28  # a longer id (LeetCode's slugs) is cut: the panel stays as tall as its models


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ID_CHARS else text[:MAX_ID_CHARS - 1] + "\u2026"


def problem_step(problems: int) -> int:
    """Every how many problems the pass matrix names one."""
    return max(1, -(-problems // MAX_PROBLEM_TICKS))


def rate_axis(ax, values, axis: str = "y") -> None:
    """A rate axis from 0 (never below: an all-zero series sits on it, its markers
    unclipped) to 1, or, when every value (CI ends included) is at most 0.5, to the
    first tenth above the largest (0.1 when all are 0)."""
    top = max([float(v) for v in values if v is not None and np.isfinite(v)], default=0.0)
    top = 1.0 if top > 0.5 else (np.floor(round(top * 10, 9)) + 1) / 10
    (ax.set_ylim if axis == "y" else ax.set_xlim)(0, top)
    for artist in [*ax.lines, *ax.collections]:
        artist.set_clip_on(False)


def statuses(counts, short: dict[str, str]) -> Figure:
    """Per model, its samples' verdicts as shares, stacked."""
    fig = Figure(figsize=(8.0, 0.3 * len(counts) + 1.6))
    ax = fig.subplots()
    shares = counts.div(counts.sum(axis=1).where(lambda s: s > 0), axis=0).fillna(0)
    y = np.arange(len(counts))[::-1]
    left = np.zeros(len(counts))
    for status in counts.columns:
        ax.barh(y, shares[status], left=left, color=STATUS_COLOURS.get(status, "#777777"), label=status,
                edgecolor="white", lw=0.3)
        left += shares[status].to_numpy()
    ax.set_yticks(y, [short[m] for m in counts.index])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of samples")
    _legend_right([ax])
    return fig


def pass_at_k(curves: dict, short: dict[str, str], style: dict) -> Figure:
    fig = Figure(figsize=(4.0 * len(curves) + 2.2, 3.4))
    axes = fig.subplots(1, len(curves), squeeze=False, sharey=True)[0]
    for ax, (dataset, table) in zip(axes, curves.items(), strict=True):
        for m, row in table.iterrows():
            colour, marker = style[m]
            ax.plot(row.index, row.to_numpy(dtype=float), marker=marker, color=colour, ms=4, lw=1, label=short[m])
        ax.set_xticks(list(table.columns))
        rate_axis(ax, [v for t in curves.values() for v in t.to_numpy(dtype=float).ravel()])  # shared: all panels'
        ax.set_xlabel("k (samples)")
        ax.set_title(dataset)
    axes[0].set_ylabel("pass@k (unbiased estimate)")
    _legend_right(axes)
    return fig


def distributions(tokens: dict, cost: dict, short: dict[str, str], style: dict) -> Figure:
    """Box plots per model: output tokens and USD per sample, log axes."""
    fig = Figure(figsize=(9.0, 0.3 * len(tokens) + 1.6))
    axes = fig.subplots(1, 2, sharey=True)
    models = list(tokens)
    y = np.arange(len(models))[::-1]
    for ax, values, label in ((axes[0], tokens, "output tokens per sample (log scale)"),
                              (axes[1], cost, "USD per sample (log scale)")):
        box = ax.boxplot([values[m][values[m] > 0] for m in models], orientation="horizontal", widths=0.6,
                         patch_artist=True, positions=y, flierprops={"ms": 2, "alpha": 0.5},
                         medianprops={"color": "black"})
        for patch, m in zip(box["boxes"], models, strict=True):
            patch.set(facecolor=style[m][0], alpha=0.55)  # the black median shows on every colour
        ax.set_xscale("log")
        ax.set_xlabel(label)
    axes[0].set_yticks(y, [short[m] for m in models])  # after both: each boxplot relabels the shared axis
    return fig


def usage(rows: list[dict], short: dict[str, str], style: dict) -> Figure:
    """Per router, the share of problems routed to each model, stacked; executing
    routers (the cascade) carry their escalation rate and executions."""
    fig = Figure(figsize=(8.5, 0.32 * len(rows) + 1.6))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    left = np.zeros(len(rows))
    for m in style:
        share = np.array([r["shares"][m] for r in rows])
        ax.barh(y, share, left=left, color=style[m][0], label=short[m], edgecolor="white", lw=0.3)
        left += share
    for yi, r in zip(y, rows, strict=True):
        if "escalation" in r:
            ax.text(1.01, yi, f"escalation {r['escalation']:.2f}, {r['executions']} executions", va="center",
                    fontsize=7, transform=ax.get_yaxis_transform())
    ax.set_yticks(y, [r["router"] for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of test problems routed to the model")
    handles = [Patch(color=style[m][0], label=short[m]) for m in style]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, frameon=False, fontsize=8)
    return fig

