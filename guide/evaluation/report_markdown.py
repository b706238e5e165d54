"""The evaluation report as Markdown (what the README shows): the per-task tables, the published results, the
purchase calibration, the summary with its verdicts and Δm, the out-of-domain tables and the search.

It reads only the report's dict (`guide.evaluation.report.build_report`, `build_ood`, or a saved report.json),
so a saved report renders without the model.
"""

from __future__ import annotations

from guide.config import TASKS
from guide.evaluation.summary import HEADLINES, decide
from guide.training.study import study_lines


def _fmt(values: dict | None, metric: str) -> str:
    if not values or metric not in values or values[metric] is None:
        return "–"
    text = f"{values[metric]:.3f}"
    ci = values.get(f"{metric}_ci")
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else text


METRICS_SHOWN = {
    "sentiment": ("macro_f1", "accuracy", "spearman"),
    "attributes": ("micro_f1", "macro_f1", "category_accuracy"),
    "purchase": ("full_hr@10", "full_ndcg@10", "full_hr@20", "hr@10", "ndcg@10", "catalogue_hr@10"),
    "profile": ("ndcg_category", "ndcg_subcategory", "ndcg_brand", "kl"),
}


def markdown(report: dict) -> str:
    """The report as Markdown tables (what the README shows)."""
    lines = []
    for task in TASKS:
        if task not in report:
            continue
        metrics = METRICS_SHOWN[task]
        lines += [
            f"\n**{task}** (headline: {HEADLINES[task][1]})\n",
            "| slice | model | " + " | ".join(metrics) + " |",
            "|---|---|" + "---|" * len(metrics),
        ]
        for slice_name, rows in report[task].items():
            parts = sorted(n for n in rows if n.startswith("MTL:"))  # the served score's parts, after it
            order = ["MTL", *parts, "STL"] + sorted(n for n in rows if n not in ("MTL", "STL", *parts))
            for name in [n for n in order if n in rows]:
                cells = " | ".join(_fmt(rows[name], m) for m in metrics)
                lines.append(f"| {slice_name} | {'**' + name + '**' if name == 'MTL' else name} | {cells} |")
    lines += published_lines(report.get("meta", {}).get("published", {}))
    lines += calibration_lines(report.get("purchase_calibration"))
    lines += seed_lines(report.get("purchase_seeds"))
    for peer, section in (report.get("peer_seeds") or {}).items():
        lines += seed_lines(section, f"{peer} over")
    lines += summary_lines(report.get("summary", {}))
    lines += ood_lines(report.get("ood"))
    lines += study_lines(report.get("search"))
    return "\n".join(lines)


def published_lines(table: dict) -> list[str]:
    """The published results on the same benchmark (`guide.evaluation.published`), each with its source."""
    if not table:
        return []
    lines = [
        "\nPublished on the same benchmark (22,363 shoppers, 12,101 products, history masked), with where each "
        "number was read:\n",
        "| model | full_hr@10 | full_ndcg@10 | hr@10 (1 + 99) | ndcg@10 (1 + 99) | source |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in table.items():
        cells = " | ".join("–" if values.get(k) is None else f"{values[k]:.4f}" for k in
                           ("full_hr@10", "full_ndcg@10", "hr@10", "ndcg@10"))  # fmt: skip
        lines.append(f"| {name} | {cells} | {values.get('source', '–')} |")
    return lines


def seed_lines(section: dict | None, title: str = "Purchase over") -> list[str]:
    """The purchase headline over training seeds (`guide.evaluation.purchase_seeds`): each run, then mean ± std."""
    if not section:
        return []
    columns = list(section["summary"])
    lines = [
        f"\n{title} {len(section['runs'])} training seeds (test split; each run's mean over shoppers):\n",
        "| seed | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for run in section["runs"]:
        lines.append(f"| {run['seed']} | " + " | ".join(f"{run[c]:.4f}" for c in columns) + " |")
    cells = []
    for column in columns:
        mean, std = section["summary"][column]["mean"], section["summary"][column]["std"]
        cells.append(f"{mean:.4f}" + ("" if std is None else f" ± {std:.4f}"))
    lines.append("| mean ± std | " + " | ".join(cells) + " |")
    return lines


def calibration_lines(calibration: dict | None) -> list[str]:
    if not calibration:
        return []
    return [
        f"\nPurchase probability calibration ({calibration['shoppers']:,} test shoppers, their top 20 products): "
        f"ECE {calibration['ece']:.4f}, Brier {calibration['brier']:.4f}; mean probability mass of the top 10 "
        f"{calibration['top10_mass']:.3f} vs observed hit rate {calibration['top10_hit_rate']:.3f}."
    ]


def summary_lines(summary: dict) -> list[str]:
    """The summary table (verdicts from `decide`, so the report and this table cannot disagree) and Δm."""
    if not summary:
        return []
    lines = [
        "\n| task | MTL | STL | MTL vs STL | best peer | MTL vs best peer | gain vs STL |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, row in summary["tasks"].items():
        higher = HEADLINES[task][2] if task in HEADLINES else True
        vs_stl = decide(row["MTL"], row["STL"], higher, row.get("vs_stl_diff_ci"), row.get("MTL_ci"), row.get("STL_ci"))
        vs_peer = decide(
            row["MTL"], row.get("best_peer_value"), higher, a_ci=row.get("MTL_ci"), b_ci=row.get("best_peer_ci")
        )
        gain = row.get("relative_gain_vs_stl")
        lines.append(
            f"| {task} | {_num(row['MTL'], row.get('MTL_ci'))} | {_num(row['STL'], row.get('STL_ci'))} | "
            f"{_verdict(vs_stl)}{_rule(row)} | {row.get('best_peer') or '–'} "
            f"{_num(row.get('best_peer_value'), row.get('best_peer_ci'))} | {_verdict(vs_peer)} | "
            f"{'–' if gain is None else f'{gain:+.1%}'} |"
        )
    lines.append(
        "\nVerdicts: beats / behind when the 95% CI of the paired bootstrap difference excludes 0 (vs STL), "
        "or when the 95% CIs do not overlap (vs peers); ties otherwise; – without CIs."
    )
    return lines + _delta_m_lines(summary)


def _delta_m_lines(summary: dict) -> list[str]:
    if summary.get("delta_m") is None:
        return []
    lines = [
        f"\nΔm (average relative gain of MTL over STL on the headline metrics), all twins: {summary['delta_m']:+.2%}"
    ]
    excluded, unchecked = summary.get("twins_excluded", {}), summary.get("twins_unchecked", [])
    if "delta_m_without_failed_twins" in summary:
        without = summary["delta_m_without_failed_twins"]
        reasons = "; ".join(f"{task}: {why}" for task, why in excluded.items()) or "none"
        lines.append(
            f"\nΔm without twins below their task's trivial peer: {'–' if without is None else f'{without:+.2%}'} "
            f"(excluded: {reasons}"
            + (f"; not checked, no trivial peer: {', '.join(unchecked)}" if unchecked else "")
            + ")"
        )
    return lines


def _num(value, ci=None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


def _verdict(value: str | None) -> str:
    return "–" if value is None else ("**behind**" if value == "behind" else value)


def _rule(row: dict) -> str:
    return " (paired)" if row.get("vs_stl_diff_ci") is not None else ""


# --- the out-of-domain section -------------------------------------------------------------------------------
def ood_lines(ood: dict | None) -> list[str]:
    """The out-of-domain tables: sentiment across sources and units, text formats, Beauty 2014 titles."""
    if not ood:
        return []
    return _ood_sentiment_lines(ood["sentiment"]) + _ood_format_lines(ood["formats"]) + _ood_title_lines(ood["titles"])


def _ood_sentiment_lines(section: dict) -> list[str]:
    lines = [
        "\n**Out of domain: sentiment** (score: P(positive) − P(negative), correlated with the stars)\n",
        "| unit | trained on → tested on | system | macro_f1 | spearman | pearson | macro_f1 vs peers |",
        "|---|---|---|---|---|---|---|",
    ]
    order = {"both": 0, "amazon": 1, "clothing": 2}
    rows = sorted(
        section["rows"],
        key=lambda r: (r["unit"], r["tested_on"], order.get(r["trained_on"], 9), not r["system"].startswith("MTL")),
    )
    for row in rows:
        setting = f"{row['trained_on']} → {row['tested_on']}" + (" (out of domain)" if row["out_of_domain"] else "")
        name = f"**{row['system']}**" if row["system"].startswith("MTL") else row["system"]
        verdicts = ", ".join(f"{_verdict(v)} {peer}" for peer, v in row.get("vs_peers", {}).items())
        cells = " | ".join(_fmt(row, m) for m in ("macro_f1", "spearman", "pearson"))
        lines.append(f"| {row['unit']} | {setting} | {name} | {cells} | {verdicts} |")
    return lines + [f"\n{section['note']}"]


def _ood_format_lines(section: dict) -> list[str]:
    lines = [
        "\n**Out of domain: attributes by text format** (gap: format − catalogue format)\n",
        "| system | format | micro_f1 | gap | category_accuracy | gap |",
        "|---|---|---|---|---|---|",
    ]
    for row in section["rows"]:
        gaps = [_gap(row, m) for m in ("micro_f1", "category_accuracy")]
        lines.append(
            f"| {row['system']} | {row['format']} | {_fmt(row, 'micro_f1')} | {gaps[0]} | "
            f"{_fmt(row, 'category_accuracy')} | {gaps[1]} |"
        )
    return lines + [f"\n{section['note']}"]


def _ood_title_lines(section: dict) -> list[str]:
    lines = ["\n**Out of domain: Amazon Beauty 2014 titles → category**\n", "| system | category_accuracy | n |",
             "|---|---|---|"]  # fmt: skip
    lines += [f"| {row['system']} | {_fmt(row, 'category_accuracy')} | {row['n']:,} |" for row in section["rows"]]
    return lines + [f"\n{section['note']}"]


def _gap(row: dict, metric: str) -> str:
    if f"gap_{metric}" not in row:
        return "–"
    low, high = row[f"gap_{metric}_ci"]
    return f"{row[f'gap_{metric}']:+.3f} [{low:+.3f}, {high:+.3f}]"
