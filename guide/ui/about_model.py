"""Model page: how good each task is (MTL vs single-task vs peers), how the model is built, where it runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from guide.metrics.pareto import pareto
from guide.ui import charts, state
from guide.ui.charts import TASK_TITLES
from guide.ui.visuals import md_text

NEAR_ORTHOGONAL = 0.05  # |cosine| under this reads as "close to orthogonal"
TASK_BLURBS = {
    "purchase": "The next product a shopper buys, on the Amazon Beauty 2014 5-core benchmark (22,363 "
    "shoppers, leave-one-out): the last product ranked among all 12,101 (full_*, history masked) and among "
    "99 sampled products the shopper never bought (hr@10, ndcg@10).",
    "attributes": "Multi-label tags and the category of a product from its text; brands in the test "
    "split are unseen in training (micro/macro-F1, category accuracy).",
    "sentiment": "Negative / neutral / positive from a review's text (1–2★, 3★, 4–5★); "
    "Amazon beauty and clothing reviews (accuracy, macro-F1).",
    "profile": "A shopper's interest over categories and tags, judged by the next item they bought "
    "(NDCG of its category, KL divergence).",
}


def _number(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def _summary(summary: dict) -> None:
    rows = []
    for task, row in summary.get("tasks", {}).items():
        gain = row.get("relative_gain_vs_stl")
        peer = row.get("best_peer")
        rows.append(
            {
                "task": TASK_TITLES.get(task, task),
                "headline": summary.get("headline_metrics", {}).get(task, ""),
                "MTL (this model)": _number(row.get("MTL")),
                "single-task": _number(row.get("STL")),
                "best peer": f"{peer} {_number(row.get('best_peer_value'))}" if peer else "—",
                "MTL vs single-task": "—" if gain is None else f"{gain:+.1%} ({row.get('vs_stl') or 'no CI'})",
                "MTL vs best peer": row.get("vs_best_peer") or "—",
            }
        )
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption(f"Beats / ties / behind: {md_text(summary.get('decision_rule', 'by 95% CIs'))}.")
    if summary.get("delta_m") is not None:
        without = summary.get("delta_m_without_failed_twins")
        excluded = ", ".join(summary.get("twins_excluded", {})) or "none"
        st.caption(
            f"Δm, the average relative gain of the multi-task model over its single-task twins on the "
            f"headline metrics: {summary['delta_m']:+.2%}; without twins below a trivial peer "
            f"(excluded: {md_text(excluded)}): " + ("—" if without is None else f"{without:+.2%}") + "."
        )


def _calibration(calibration: dict | None) -> None:
    """The reliability of the likelihood the shop shows: predicted vs observed, by equal-count bins."""
    if not calibration:
        return
    st.caption(
        f"The likelihood on a card means: {md_text(calibration.get('meaning', ''))}. On "
        f"{calibration['shoppers']:,} test shoppers' 20 most likely products: ECE {calibration['ece']:.4f}, "
        f"Brier {calibration['brier']:.4f}; the top 10 hold {calibration['top10_mass']:.1%} of the probability "
        f"and contain the next purchase {calibration['top10_hit_rate']:.1%} of the time. Over ~21,000 products "
        "every probability is small, so beside it the shop shows, from the same scores, the product's rank among "
        "those the shopper does not own (“#3 of …”) and its multiple of their median product (“40×”): the "
        "probability says how likely, the rank and multiple how strong a pick it is for this shopper."
    )
    frame = pd.DataFrame(calibration.get("reliability", []))
    if len(frame):
        st.line_chart(frame.set_index("predicted")[["observed"]], height=180)


def _published(meta: dict) -> None:
    published = meta.get("published")
    if published:
        st.caption("Published results on exactly this benchmark, each with where its number was read:")
        frame = pd.DataFrame([{"model": name, **values} for name, values in published.items()])
        st.dataframe(frame, hide_index=True, width="stretch")


def _task_table(slices: dict) -> pd.DataFrame:
    rows = []
    for slice_name, models in slices.items():
        for name, values in models.items():
            shown = {k: v for k, v in values.items() if not k.endswith("_ci") and isinstance(v, (int, float))}
            rows.append({"slice": slice_name, "model": name, **shown})
    frame = pd.DataFrame(rows)
    frame["rank"] = frame["model"].map({"MTL": 0, "STL": 1}).fillna(2)  # ours first, then the peers
    return frame.sort_values(["slice", "rank", "model"]).drop(columns="rank")


def _with_ci(row: dict, metric: str) -> str:
    if row.get(metric) is None:
        return "—"
    ci = row.get(f"{metric}_ci")
    return f"{row[metric]:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{row[metric]:.3f}"


def _gap(row: dict, metric: str) -> str:
    if f"gap_{metric}" not in row:
        return "—"
    low, high = row[f"gap_{metric}_ci"]
    return f"{row[f'gap_{metric}']:+.3f} [{low:+.3f}, {high:+.3f}]"


def _ood_sentiment(rows: list[dict]) -> pd.DataFrame:
    order = {"both": 0, "amazon": 1, "clothing": 2}
    rows = sorted(
        rows, key=lambda r: (r["unit"], r["tested_on"], order.get(r["trained_on"], 9), r["system"][:3] != "MTL")
    )
    return pd.DataFrame(
        {
            "unit": r["unit"],
            "trained on → tested on": f"{r['trained_on']} → {r['tested_on']}"
            + (" (out of domain)" if r["out_of_domain"] else ""),
            "system": r["system"],
            "macro-F1": _with_ci(r, "macro_f1"),
            "Spearman": _with_ci(r, "spearman"),
            "Pearson": _with_ci(r, "pearson"),
            "macro-F1 vs peers": ", ".join(f"{v or '—'} {peer}" for peer, v in r.get("vs_peers", {}).items()),
        }
        for r in rows
    )


def _ood(ood: dict | None) -> None:
    """Out of domain: sentiment on the review source a system did not train on, review sentences, attributes
    on every text format and Amazon Beauty 2014 titles — with what each row was trained on."""
    st.markdown("#### Out of domain")
    if not ood:
        st.info("This report has no out-of-domain tables. Run `python -m guide evaluate --ood --save`.")
        return
    sentiment, formats, titles = ood["sentiment"], ood["formats"], ood["titles"]
    st.caption(
        "Sentiment trained on one review source and tested on the other (and in domain for reference). "
        + md_text(sentiment["note"])
    )
    st.dataframe(_ood_sentiment(sentiment["rows"]), hide_index=True, width="stretch")
    st.caption("Tags and category from every text format a product arrives in. " + md_text(formats["note"]))
    frame = pd.DataFrame(
        {"system": r["system"], "format": r["format"], "tag micro-F1": _with_ci(r, "micro_f1"),
         "gap": _gap(r, "micro_f1"), "category accuracy": _with_ci(r, "category_accuracy"),
         "gap ": _gap(r, "category_accuracy")}
        for r in formats["rows"]
    )  # fmt: skip
    st.dataframe(frame, hide_index=True, width="stretch")
    st.caption(md_text(titles["note"]))
    frame = pd.DataFrame(
        {"system": r["system"], "category accuracy": _with_ci(r, "category_accuracy"), "titles": r["n"]}
        for r in titles["rows"]
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def _last_request(server_ms: float) -> str:
    outcome = st.session_state.get("outcome")
    if outcome:
        change = getattr(outcome[1], "change", outcome[1])
        return f"{change.elapsed_ms:.0f} ms"
    return f"{server_ms:.0f} ms" if server_ms else "—"


def _diagram(config: dict, weighting: str) -> str:
    """The architecture as a Graphviz DOT string (our own labels, no user text)."""
    sharing = str(config.get("sharing", "shared"))
    experts = config.get("num_experts", "")
    trunk = f"shared trunk\\n{sharing}" + (f", {experts} experts" if sharing in ("mmoe", "ple") else "")
    heads = "".join(
        f'"{t}" [label="{TASK_TITLES[t]}\\nhead", fillcolor="#F6ECE8"];"trunk" -> "{t}";'
        for t in config.get("tasks", TASK_TITLES)
        if t in TASK_TITLES
    )
    return (
        'digraph { rankdir=LR; bgcolor="transparent"; node [shape=box, style="rounded,filled", '
        'fontname="sans-serif", fontsize=11, color="#B4235A", fillcolor="#FFFFFF"]; edge [color="#9FA6B2"];'
        '"text" [label="product / review text\\nMiniLM-L6 + n-grams"]; '
        f'"trunk" [label="{trunk}", fillcolor="#FAF5F2"]; "text" -> "trunk"; {heads}'
        f'labelloc="b"; label="loss weighting: {weighting}"; fontname="sans-serif"; fontsize=10; }}'
    )


def _affinity_reading(tasks: list[str], matrix: list[list[float]]) -> str:
    """One sentence that reads the heatmap: the strongest pair, and whether the tasks are near orthogonal."""
    pairs = [(abs(matrix[i][j]), matrix[i][j], tasks[i], tasks[j]) for i in range(len(tasks)) for j in range(i)]
    if not pairs:
        return ""
    _, value, one, other = max(pairs)
    strongest = f"the strongest pair is {md_text(one)} and {md_text(other)} ({value:+.3f})"
    if abs(value) < NEAR_ORTHOGONAL:
        return (
            f"**Reading:** every pair stays within ±{abs(value):.3f}; {strongest}. On the shared layers the tasks' "
            "gradients are close to orthogonal: they neither help nor hurt each other much, in line with the "
            "report's Δm near zero."
        )
    side = "help each other" if value > 0 else "pull against each other"
    return f"**Reading:** {strongest}: these two {side} most on the shared layers."


def _affinity(affinity: dict) -> None:
    """How the tasks help each other: the gradient-cosine heatmap and the loss weights over training."""
    st.markdown("#### Do the tasks help each other?")
    if not affinity.get("matrix"):
        st.info("This checkpoint was trained without affinity probes (`python -m guide train --affinity-every 25`).")
        return
    records = affinity["records"]
    origin = (
        "recorded while training this checkpoint"
        if affinity.get("source") == "this checkpoint"
        else f"recorded in a {affinity.get('steps', '?')}-step training run of the same configuration "
        f"({affinity.get('weighting', '?')} weighting, seed {affinity.get('seed', '?')}; "
        f"{md_text(str(affinity.get('source', '')))} beside the checkpoint)"
    )
    st.caption(
        f"Every {affinity.get('every', '?')} steps, one fresh batch per task: the cosine between two tasks' "
        f"loss gradients on the shared encoder and trunk (mean over the second half of {len(records)} probes), "
        f"{origin}. Positive: the tasks push the shared layers the same way; negative: they pull apart."
    )
    if note := affinity.get("note"):
        st.caption(md_text(str(note)))
    if reading := _affinity_reading(affinity["tasks"], affinity["matrix"]):
        st.markdown(reading)
    left, right = st.columns(2)
    left.plotly_chart(charts.affinity_heatmap(affinity["tasks"], affinity["matrix"]), config={"displayModeBar": False})
    right.plotly_chart(charts.weight_curves(records), config={"displayModeBar": False})


def _search(study: dict | None, tasks: list[str]) -> None:
    """How the configuration was chosen: the recorded search's trials and their trade-off."""
    st.markdown("#### How was this configuration chosen?")
    if not study or not study.get("trials"):
        st.info("No configuration search is recorded beside this checkpoint (`python -m guide search`).")
        return
    trials = study["trials"]
    best = max(trials, key=lambda t: t["score"])
    front = set(pareto(trials, tasks))
    st.caption(
        f"A recorded search ({md_text(study['sampler'])}): {len(trials)} trials of {study['steps_per_trial']} "
        f"training steps each ({study['seconds'] / 60:.0f} minutes on 2 CPU cores), each scored on the validation "
        "split only. Short trials favour configurations that learn fast; the shipped model is the best trial's "
        "configuration trained for its full budget. Ringed: trials no other trial beats on every task."
    )
    st.markdown(
        f"**Best trial:** {best['number']} — "
        + md_text(", ".join(f"{k} {v if isinstance(v, str) else round(v, 4)}" for k, v in best["params"].items()))
    )
    left, right = st.columns(2)
    x = left.selectbox("Horizontal", tasks, index=tasks.index("purchase") if "purchase" in tasks else 0, key="search_x")
    y = right.selectbox(
        "Vertical", tasks, index=tasks.index("sentiment") if "sentiment" in tasks else 1, key="search_y"
    )
    st.plotly_chart(charts.search_tradeoff(trials, x, y, front), config={"displayModeBar": False})
    rows = [
        {
            "trial": t["number"],
            "front": "yes" if t["number"] in front else "",
            **t["params"],
            **t["val"],
            "mean": t["score"],
        }
        for t in sorted(trials, key=lambda t: -t["score"])
    ]
    with st.expander("Every trial", expanded=False):
        st.dataframe(pd.DataFrame(rows).round(4), hide_index=True, width="stretch")


def main() -> None:
    svc = state.service()
    card = svc.model_card()
    config = card.config
    st.title("The model")
    st.markdown(
        "One network answers four questions. Every text (product or review) is embedded by "
        "all-MiniLM-L6-v2 plus hashed word n-grams, then goes through **one shared trunk**; four small heads "
        "read the trunk: purchase, attributes, sentiment, profile. A review you send is scored by all "
        "heads in the same forward pass."
    )
    numbers = st.columns(4)
    numbers[0].metric("Runs on", card.device.upper() if card.device else "—")
    numbers[1].metric(
        "Last request",
        _last_request(card.last_inference_ms),
        help="Wall time of the forward pass behind your last action (else the server's last one).",
    )
    numbers[2].metric("Sharing", str(config.get("sharing", "—")), help="How the trunk is shared between heads.")
    numbers[3].metric("Loss weighting", card.weighting or "—", help="How the four task losses become one update.")
    report = card.report
    st.markdown("#### How good is it?")
    if not any(task in report for task in TASK_TITLES):
        st.info("This checkpoint ships without an evaluation report. Run `python -m guide evaluate --full --save`.")
    else:
        _summary(report.get("summary", {}))
        for task, title in TASK_TITLES.items():
            if task in report:
                with st.expander(f"{title}: every metric", expanded=False):
                    st.caption(TASK_BLURBS[task])
                    st.dataframe(_task_table(report[task]), hide_index=True, width="stretch")
                    if task == "purchase":
                        _published(report.get("meta", {}))
                        _calibration(report.get("purchase_calibration"))
        for note in report.get("meta", {}).get("notes", []):
            st.caption(f"Note: {md_text(note)}")
        _ood(report.get("ood"))
    _affinity(card.affinity)
    _search(report.get("search"), list(config.get("tasks", [])))
    st.markdown("#### How is it built?")
    keys = (
        "sharing",
        "hidden",
        "num_experts",
        "dropout",
        "soft_sharing",
        "ngram_dim",
        "num_tags",
        "num_categories",
        "num_interests",
        "tasks",
    )
    architecture = {
        k: ", ".join(config[k]) if isinstance(config[k], (list, tuple)) else str(config[k]) for k in keys if k in config
    }
    training = {
        "weighting": card.weighting,
        "sampling": card.sampling,
        **{k: str(v) for k, v in card.train.items() if isinstance(v, (int, float, str)) and k != "folder"},
    }
    st.graphviz_chart(_diagram(config, card.weighting))
    left, right = st.columns(2)
    left.dataframe(
        pd.DataFrame({"architecture": list(architecture), "value": list(architecture.values())}),
        hide_index=True,
        width="stretch",
    )
    right.dataframe(
        pd.DataFrame({"training": list(training), "value": [str(v) for v in training.values()]}),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        f"Data fingerprint {card.fingerprint or '—'} · {len(svc.items):,} products · {len(svc.personas)} real shoppers."
    )


main()
