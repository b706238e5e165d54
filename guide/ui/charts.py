"""Plotly figures for the profile and the outcome of an action. Pure functions: data in, figure out.

Hover labels carry catalogue titles only (escaped), never a shopper's own text.
"""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from guide.serving.views import Change, Headline, LikelihoodPoint, SentimentPoint

NOW, BEFORE = "#B4235A", "#9FA6B2"
TWIN, PEER = "#3B6FB6", "#D49A2A"
TASK_TITLES = {
    "purchase": "Purchase likelihood",
    "attributes": "Product attributes",
    "sentiment": "Review sentiment",
    "profile": "Shopper profile",
}
SENTIMENT_COLOURS = {"positive": "#4C9F70", "neutral": "#9FA6B2", "negative": "#C8453B"}
FONT = dict(family="sans-serif", size=12, color="#1F1A1C")


def _layout(fig: go.Figure, height: int = 330, **extra) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=36, b=10),
        font=FONT,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        **extra,
    )
    return fig


def _short(name: str, limit: int = 18) -> str:
    name = name.removeprefix("Good for: ")
    return html.escape(name if len(name) <= limit else name[: limit - 1] + "…")


def axis_labels(names: list[str], limit: int = 16) -> list[str]:
    """Short, distinct axis labels: a category path's last level ("Skin Care › Face" -> "Face"), its first
    level added where two would read the same ("Face (Makeup)"), cut to `limit`; a polar chart merges axes
    whose labels are equal, so distinct names must stay distinct labels."""
    parts = [n.split(" › ") for n in names]
    lasts = [p[-1] for p in parts]
    labels = [f"{p[-1]} ({p[0]})" if len(p) > 1 and lasts.count(p[-1]) > 1 else p[-1] for p in parts]
    out: list[str] = []
    for label in labels:
        short = _short(label, limit)
        while short in out:  # still equal after cutting: number it
            short = f"{short} {len(out) + 1}"
        out.append(short)
    return out


def interest_radar(now: dict[str, float], before: dict[str, float] | None = None, top: int = 7) -> go.Figure:
    names = list(now)[:top]
    if len(names) < 3:  # a radar needs a polygon
        names += [n for n in (before or {}) if n not in names][: 3 - len(names)]
    labels = axis_labels(names)
    fig = go.Figure()
    if before:
        values = [before.get(n, 0.0) for n in names]
        fig.add_scatterpolar(
            r=values + values[:1],
            theta=labels + labels[:1],
            name="before last action",
            line=dict(color=BEFORE, dash="dash"),
        )
    values = [now.get(n, 0.0) for n in names]
    fig.add_scatterpolar(
        r=values + values[:1],
        theta=labels + labels[:1],
        name="now",
        fill="toself",
        line=dict(color=NOW),
        fillcolor="rgba(180,35,90,.18)",
    )
    fig = _layout(fig, polar=dict(radialaxis=dict(tickformat=".0%", showticklabels=False)), showlegend=True)
    fig.update_layout(
        margin=dict(l=80, r=80, t=30, b=40),  # room for the category names
        legend=dict(orientation="h", yanchor="top", y=-0.08, x=0.5, xanchor="center"),
    )
    return fig


def tag_bars(now: dict[str, float], before: dict[str, float] | None = None, top: int = 10) -> go.Figure:
    names = list(now)[:top][::-1]
    fig = go.Figure()
    if before:
        fig.add_bar(
            y=[_short(n, 28) for n in names],
            x=[before.get(n, 0.0) for n in names],
            orientation="h",
            name="before last action",
            marker_color=BEFORE,
        )
    fig.add_bar(
        y=[_short(n, 28) for n in names], x=[now[n] for n in names], orientation="h", name="now", marker_color=NOW
    )
    return _layout(fig, barmode="group", xaxis=dict(tickformat=".0%", title="share of interest"))


def sentiment_timeline(points: list[SentimentPoint]) -> go.Figure:
    """Each review in order (oldest first; the date is in the hover), coloured by the model's label;
    stars mark reviews written here. The line is the running mean of the last five."""
    points = sorted(points, key=lambda p: p.when)
    order = list(range(1, len(points) + 1))
    scores = [p.score for p in points]
    trend = [sum(scores[max(0, i - 4) : i + 1]) / len(scores[max(0, i - 4) : i + 1]) for i in range(len(scores))]
    fig = go.Figure()
    fig.add_scatter(
        x=order, y=trend, mode="lines", name="trend (last 5)", line=dict(color="#D8A7B8", width=2), hoverinfo="skip"
    )
    for label, color in SENTIMENT_COLOURS.items():
        chosen = [(n, p) for n, p in zip(order, points, strict=True) if p.label == label]
        if not chosen:
            continue
        fig.add_scatter(
            x=[n for n, _ in chosen],
            y=[p.score for _, p in chosen],
            mode="markers",
            name=label,
            marker=dict(
                color=color,
                size=[15 if p.where == "here" else 8 for _, p in chosen],
                symbol=["star" if p.where == "here" else "circle" for _, p in chosen],
                line=dict(width=1, color="white"),
            ),
            text=[
                f"{html.escape(p.product)}<br>{p.when:%d %b %Y} · {p.stars}★ · "
                f"{'written here' if p.where == 'here' else 'on Amazon'}"
                for _, p in chosen
            ],
            hovertemplate="%{text}<br>sentiment %{y:+.2f}<extra></extra>",
        )
    return _layout(
        fig,
        yaxis=dict(range=[-1.1, 1.1], title="sentiment (−1 … +1)", zeroline=True),
        xaxis=dict(title="reviews, oldest → newest (★ = written here)", dtick=max(1, len(order) // 8)),
    )


def percent_ticks(top: float, ticks: int = 4) -> dict:
    """A percentage axis from 0 to `top` whose tick labels are all different: a 1-2-5 step near top / `ticks`,
    with as many decimals as that step needs. Next-purchase probabilities over ~12k products are often far
    below 1%, where a fixed format ("0.01%, 0.01%, 0.02%") repeats labels."""
    top = top if top > 0 else 0.01
    raw = top / ticks
    exponent = math.floor(math.log10(raw))
    step = next(n for n in (1, 2, 5, 10) if raw <= n * 10**exponent + 1e-15) * 10**exponent
    decimals = max(0, -math.floor(math.log10(step * 100) + 1e-9))
    return dict(tick0=0, dtick=step, tickformat=f".{decimals}%")


def likelihood_history(points: list[LikelihoodPoint]) -> go.Figure:
    fig = go.Figure()
    steps = sorted({(p.step, p.step_label) for p in points})
    for item in dict.fromkeys(p.item_id for p in points):
        chosen = sorted((p for p in points if p.item_id == item), key=lambda p: p.step)
        fig.add_scatter(
            x=[p.step_label for p in chosen],
            y=[p.likelihood for p in chosen],
            mode="lines+markers",
            name=_short(chosen[0].title, 30),
            hovertemplate="%{y:.2%}<extra>%{fullData.name}</extra>",
        )
    top = max((p.likelihood for p in points), default=1)
    yaxis = dict(**percent_ticks(top), title="P(buy next)", rangemode="tozero")
    xaxis = dict(categoryorder="array", categoryarray=[label for _, label in steps], title="after each action")
    return _layout(fig, height=360, yaxis=yaxis, xaxis=xaxis)


def before_after(change: Change, top: int = 6, height: int = 300) -> go.Figure:
    """The interests that moved most with the last action, before and after."""
    names = set(change.categories_after) | set(change.categories_before)
    moved = sorted(names, key=lambda n: -abs(change.categories_after.get(n, 0) - change.categories_before.get(n, 0)))
    names = moved[:top][::-1]
    labels = axis_labels(names, 26)  # distinct, or two categories would share one bar row
    fig = go.Figure()
    fig.add_bar(
        y=labels,
        x=[change.categories_before.get(n, 0.0) for n in names],
        orientation="h",
        name="before",
        marker_color=BEFORE,
    )
    fig.add_bar(
        y=labels,
        x=[change.categories_after.get(n, 0.0) for n in names],
        orientation="h",
        name="after",
        marker_color=NOW,
    )
    return _layout(fig, height=height, barmode="group", xaxis=dict(tickformat=".0%"))


def affinity_heatmap(tasks: list[str], matrix: list[list[float]]) -> go.Figure:
    """Mean cosine between the tasks' gradients on the shared layers: + pull together, - conflict. The
    diagonal (always 1) is left blank and the colour scale spans the largest off-diagonal value, so small
    affinities are not lost against a -1..1 scale; the numbers are printed in each cell."""
    names = [html.escape(t) for t in tasks]
    cells = [[None if i == j else v for j, v in enumerate(row)] for i, row in enumerate(matrix)]
    span = max((abs(v) for row in cells for v in row if v is not None), default=0.0) or 1.0
    text = [["" if v is None else f"{v:+.3f}" for v in row] for row in cells]
    fig = go.Figure(
        go.Heatmap(
            z=cells,
            x=names,
            y=names,
            zmin=-span,
            zmax=span,
            colorscale=[[0.0, SENTIMENT_COLOURS["negative"]], [0.5, "#F4F1EF"], [1.0, SENTIMENT_COLOURS["positive"]]],
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} · %{x}: %{z:+.4f}<extra></extra>",
            colorbar=dict(title="cosine", thickness=10),
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=320, title=dict(text="Task affinity (gradient cosine)", x=0, font=dict(size=13)))


def weight_curves(records: list[dict]) -> go.Figure:
    """The loss weight of each task over training steps, as the weighting strategy set it."""
    fig = go.Figure()
    tasks = list(records[0].get("weights", {})) if records else []
    palette = [NOW, "#4C9F70", "#3B6FB6", "#D49A2A", BEFORE]
    for i, task in enumerate(tasks):
        fig.add_trace(
            go.Scatter(
                x=[r["step"] for r in records],
                y=[r["weights"].get(task) for r in records],
                mode="lines",
                name=html.escape(task),
                line=dict(color=palette[i % len(palette)], width=2),
            )
        )
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="loss weight")
    fig = _layout(fig, height=320, title=dict(text="Loss weights over training", x=0, font=dict(size=13)))
    return fig.update_layout(
        legend=dict(orientation="h", yanchor="top", y=-0.28, x=0)
    )  # below the plot, clear of the title


def search_tradeoff(trials: list[dict], x: str, y: str, front: set[int]) -> go.Figure:
    """Each configuration-search trial as a point (validation metric of task x against task y), coloured by the
    mean over all tasks; trials on the trade-off front are ringed, and hovering names the configuration."""
    text = [
        f"trial {t['number']}: {t['params']['sharing']}, {t['params']['weighting']}, {t['params']['sampling']}, "
        f"lr {t['params']['lr']:.4f}<br>mean {t['score']:.3f}"
        for t in trials
    ]
    fig = go.Figure(
        go.Scatter(
            x=[t["val"][x] for t in trials],
            y=[t["val"][y] for t in trials],
            mode="markers+text",
            text=[str(t["number"]) for t in trials],
            textposition="top center",
            hovertext=text,
            hoverinfo="text",
            marker=dict(
                size=14,
                color=[t["score"] for t in trials],
                colorscale="Viridis",
                colorbar=dict(title="mean"),
                line=dict(width=[3 if t["number"] in front else 0 for t in trials], color="#d62728"),
            ),
        )
    )
    return _layout(fig, xaxis=dict(title=f"{x} (validation)"), yaxis=dict(title=f"{y} (validation)"))


def _error(value: float | None, interval: tuple[float, float] | None) -> tuple[float, float]:
    if value is None or interval is None:
        return 0.0, 0.0
    return max(0.0, interval[1] - value), max(0.0, value - interval[0])


def headline_chart(headlines: list[Headline], height: int = 300) -> go.Figure:
    """Each task's headline metric: the shared model, its single-task twin and the best peer, with 95% CIs."""
    labels = [f"{TASK_TITLES.get(h.task, html.escape(h.task))}<br>{html.escape(h.metric)}" for h in headlines][::-1]
    fig = go.Figure()
    series = (
        ("best peer", PEER, lambda h: (h.peer_value, h.peer_ci)),
        ("single-task twin", TWIN, lambda h: (h.twin, h.twin_ci)),
        ("shared model", NOW, lambda h: (h.shared, h.shared_ci)),
    )
    for name, colour, read in series:
        values = [read(h) for h in headlines][::-1]
        errors = [_error(value, interval) for value, interval in values]
        fig.add_bar(
            y=labels,
            x=[value for value, _ in values],
            orientation="h",
            name=name,
            marker_color=colour,
            error_x=dict(type="data", array=[e[0] for e in errors], arrayminus=[e[1] for e in errors], thickness=1.2),
            hovertemplate="%{x:.3f}<extra>" + name + "</extra>",
        )
    fig = _layout(
        fig, height=height, barmode="group", xaxis=dict(title="test split, 95% bootstrap CI", rangemode="tozero")
    )
    return fig.update_layout(legend=dict(traceorder="reversed", orientation="h", yanchor="bottom", y=1.0, x=0))
