"""The recap a presenter sends round afterwards: one self-contained HTML file.

`build(recap)` is a pure function (a `Recap` from `ShopService.recap` in, a string out; no Streamlit), so it is
tested on its own. The file needs no network to open: plotly's JavaScript is embedded once, in the first chart
(`include_plotlyjs=True`), and the style is inline. Every string we did not write — the shopper's name, their
review titles and texts, catalogue titles, tags and categories, the report's notes — goes through
`html.escape`; chart labels are escaped by `charts`, and plotly writes its data as JSON with `<` escaped.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from guide.serving.personas import short
from guide.serving.views import Change, Recap, ReviewOutcome
from guide.ui import charts
from guide.ui.visuals import percent, standing_text

ACTIONS = {"cart": "Added to the cart", "purchase": "Bought", "review": "Reviewed"}
STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, sans-serif; color: #1F1A1C; max-width: 980px;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #EEE3DF; }
.muted { color: #6B5E62; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #EEE3DF; vertical-align: top; }
th { background: #FAF5F2; }
blockquote { margin: .4rem 0; padding: .4rem .8rem; background: #FAF5F2; border-left: 3px solid #B4235A;
             white-space: pre-wrap; }
.action { border: 1px solid #EEE3DF; border-radius: .6rem; padding: .2rem 1rem 1rem; margin: 1rem 0; }
"""


class _Charts:
    """Plotly figures as HTML; the first one carries plotly.js so the file opens offline."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, figure: go.Figure) -> str:
        self.count += 1
        return figure.to_html(
            full_html=False,
            include_plotlyjs=self.count == 1,
            config={"displayModeBar": False, "responsive": True},
            default_width="100%",
        )


def _e(text: object) -> str:
    return html.escape(str(text if text is not None else ""))


def _tags(tags: dict[str, float], limit: int = 5) -> str:
    return ", ".join(f"{_e(t)} {p:.0%}" for t, p in list(tags.items())[:limit]) or "none over its threshold"


def _top(change: Change, before: bool) -> str:
    picks = change.top_before if before else change.top_after
    standings = change.top_standings_before if before else change.top_standings_after
    if not picks:
        return "—"
    _, title, probability = picks[0]
    standing = standings[0] if standings else None
    return f"{_e(short(title, 60))}: {percent(probability)} ({_e(standing_text(standing)) or 'rank —'})"


def _interest(categories: dict[str, float]) -> str:
    top = next(iter(categories), None)
    return "—" if top is None else f"{_e(top)} {categories[top]:.0%}"


def _rows(action: ReviewOutcome | Change) -> list[tuple[str, str, str]]:
    """(output, before, after) for the four answers of one action."""
    review = action if isinstance(action, ReviewOutcome) else None
    change = review.change if review else action
    rows = []
    if review:
        probs = ", ".join(f"{label} {p:.0%}" for label, p in review.sentiment.probs.items())
        sentiment = f"{_e(review.sentiment.label)} {review.sentiment.score:+.2f}" + (f" ({_e(probs)})" if probs else "")
        rows.append(("Sentiment of the review", "no review", sentiment))
        tags_after = f"{_tags(review.tags_after)}; category {_e(review.category_after)}"
        rows.append(("Product tags", _tags(review.tags_before), tags_after))
    likelihood_before = f"{percent(change.likelihood_before)} ({_e(standing_text(change.standing_before)) or '—'})"
    likelihood_after = f"{percent(change.likelihood_after)} ({_e(standing_text(change.standing_after)) or '—'})"
    rows.append(("Purchase likelihood of this product", likelihood_before, likelihood_after))
    rows.append(("Top pick (most likely next purchase)", _top(change, True), _top(change, False)))
    rows.append(("Profile: top interest", _interest(change.categories_before), _interest(change.categories_after)))
    return rows


def _action(number: int, action: ReviewOutcome | Change, chart: _Charts) -> str:
    review = action if isinstance(action, ReviewOutcome) else None
    change = review.change if review else action
    said = ""
    if review:
        stars = "★" * review.review.stars + "☆" * (5 - review.review.stars)
        title = f"<b>{_e(review.review.title)}</b>\n" if review.review.title else ""
        said = f"<blockquote>{stars}\n{title}{_e(review.review.text)}</blockquote>"
    table = "".join(f"<tr><td>{o}</td><td>{b}</td><td>{a}</td></tr>" for o, b, a in _rows(action))
    return (
        f'<section class="action"><h3>{number}. {ACTIONS.get(change.kind, _e(change.kind))} '
        f"“{_e(change.title)}”</h3>{said}"
        f'<p class="muted">One forward pass of the shared model answered all four at once '
        f"({change.elapsed_ms:.0f} ms on {_e(change.device or 'cpu')}, replayed for this recap).</p>"
        f"<table><tr><th>output</th><th>before</th><th>after</th></tr>{table}</table>"
        f"<p><b>Interests that moved most</b></p>{chart(charts.before_after(change, height=260))}</section>"
    )


def _interval(value: float | None, interval: tuple[float, float] | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def _model(recap: Recap, chart: _Charts) -> str:
    if not recap.headlines:
        return "<h2>The model</h2><p>This checkpoint ships without an evaluation report.</p>"
    rows = "".join(
        f"<tr><td>{_e(charts.TASK_TITLES.get(h.task, h.task))}</td><td>{_e(h.metric)}</td>"
        f"<td>{_interval(h.shared, h.shared_ci)}</td><td>{_interval(h.twin, h.twin_ci)} — {_e(h.vs_twin or 'no CI')}"
        f"</td><td>{_e(h.peer)} {_interval(h.peer_value, h.peer_ci)} — {_e(h.vs_peer or 'no CI')}</td></tr>"
        for h in recap.headlines
    )
    delta = "" if recap.delta_m is None else f" Δm (mean relative gain over the twins): {recap.delta_m:+.2%}."
    model = ", ".join(f"{_e(k)} {_e(v)}" for k, v in recap.model.items() if v)
    return (
        "<h2>The model: one shared network against its single-task twins</h2>"
        f'<p class="muted">One network ({model}) answers the four questions; each twin is the same network trained on '
        "one task alone. Headline metric on the test split with its 95% bootstrap CI; beats / ties / behind as "
        f"decided by {_e(recap.decision_rule or 'the CIs')}.{delta}</p>"
        "<table><tr><th>task</th><th>metric</th><th>shared model</th><th>single-task twin</th><th>best peer</th></tr>"
        f"{rows}</table>{chart(charts.headline_chart(recap.headlines))}"
        f'<p class="muted">The purchase likelihood means: {_e(recap.calibration or "P(next purchase)")}; its rank '
        "and multiple of the median product come from the same scores.</p>"
    )


def build(recap: Recap) -> str:
    """The recap as one HTML document (UTF-8, no external resource)."""
    chart = _Charts()
    persona = recap.persona
    who = "the guided tour's sandbox copy of this shopper" if recap.sandbox else "this shopper"
    done = "".join(
        f"<li>{ACTIONS.get(getattr(a, 'change', a).kind, '')} “{_e(getattr(a, 'change', a).title)}”</li>"
        for a in recap.actions
    )
    earlier = (
        f"<p class='muted'>{recap.actions_left_out} earlier actions are left out.</p>" if recap.actions_left_out else ""
    )
    actions = "".join(_action(n, a, chart) for n, a in enumerate(recap.actions, 1))
    interests = (
        chart(charts.interest_radar(recap.categories)) if recap.categories else "<p>No profile yet (a new shopper).</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Shopping Guide recap · {_e(short(persona.label, 60))}</title><style>{STYLE}</style></head><body>"
        "<h1>Shopping Guide · session recap</h1>"
        f'<p class="muted">Made {recap.made_at:%d %b %Y, %H:%M} UTC · {recap.catalogue_size:,} real products · '
        "one shared multi-task model: purchase likelihood, product attributes, review sentiment, shopper profile.</p>"
        f"<h2>The shopper</h2><p><b>{_e(persona.label)}</b>: {who}; {persona.purchases} real Amazon purchases, "
        f"mostly {_e(', '.join(persona.top_categories[:3])) or 'various'}.</p>"
        f"<h2>What was done</h2>{f'<ol>{done}</ol>' if done else '<p>Nothing yet: no action in this session.</p>'}"
        f"{earlier}{actions}<h2>Where their interests stand now</h2>{interests}{_model(recap, chart)}"
        '<p class="muted">This file is self-contained: the charts\' JavaScript is inside it, so it opens offline.</p>'
        "</body></html>"
    )


def unavailable(reason: str) -> str:
    """A recap file that says why the session could not be read (the store was down when it was asked for)."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shopping Guide recap</title>'
        f"<style>{STYLE}</style></head><body><h1>Shopping Guide · session recap</h1>"
        f"<p>The recap could not be made: {_e(reason)}</p><p>Try “Download recap” again in a moment.</p></body></html>"
    )
