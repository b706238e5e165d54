"""Published results on exactly this benchmark (Amazon Beauty 2014 5-core in S3-Rec's preprocessing, or a 5-core
of the same reviews with the same counts: 22,363 shoppers, 12,101 products, 198,502 purchases; leave-one-out,
the last product tested, the shopper's history masked), each with where its number was read.

The one source of truth for the published table: the report (`meta.published`), the README's table and the
app's model page all come from here. A number goes in only when it was read in the named file; "as quoted"
marks a paper's figure read in another paper's table.
"""

from __future__ import annotations

KEYS = ("full_hr@10", "full_ndcg@10", "hr@10", "ndcg@10")  # full ranking; 1 + 99 sampled

S3REC = "S3-Rec (Zhou et al., CIKM 2020), RUCAIBox/CIKM2020-S3Rec all_rank.PNG (full) and sample_99.PNG (1 + 99)"
ESASREC = "eSASRec (RecSys 2025, arXiv 2508.06450), blondered/transformer_benchmark README, Beauty"
RECBOLE = (
    "a third-party RecBole run (2026) on RecBole's Beauty 5-core (same counts), kanishkaRandunu/pswrec2k26 "
    "archives/results/results_old/benchmark_beauty.md"
)
TICOSEREC = "TiCoSeRec (Dang et al., AAAI 2023), KingGugu/TiCoSeRec README (Beauty results)"
BSAREC = (
    "BSARec (Shin et al., AAAI 2024), its authors' training log yehjin-shin/BSARec "
    "src/output/BSARec_Beauty_best.log (test score after early stopping)"
)


def _quoted(paper: str) -> str:
    return f"{paper}, quoted in {ESASREC} ('Reported')"


def _row(full_hr: float | None, full_ndcg: float | None, hr: float | None, ndcg: float | None, source: str) -> dict:
    return dict(zip(KEYS, (full_hr, full_ndcg, hr, ndcg), strict=True)) | {"source": source}


PUBLISHED: dict[str, dict] = {
    "PopRec": _row(0.0152, 0.0068, 0.3386, 0.1803, S3REC),
    "GRU4Rec": _row(0.0283, 0.0137, 0.4106, 0.2584, S3REC),
    "Caser": _row(0.0347, 0.0176, 0.3942, 0.2512, S3REC),
    "BERT4Rec": _row(0.0347, 0.0170, 0.4739, 0.2975, S3REC),
    "SASRec": _row(0.0605, 0.0318, 0.4696, 0.3156, S3REC),
    "S3-Rec": _row(0.0647, 0.0327, 0.5506, 0.3732, S3REC),
    "TIGER (as quoted)": _row(0.0648, 0.0384, None, None, _quoted("Rajput et al., NeurIPS 2023")),
    "SASRec, cross-entropy (RecBole re-run)": _row(0.0736, 0.0391, None, None, RECBOLE),
    "TiCoSeRec": _row(0.0740, 0.0418, None, None, TICOSEREC),
    "LightSANs (RecBole re-run)": _row(0.0753, 0.0416, None, None, RECBOLE),
    "ActionPiece (as quoted)": _row(0.0775, 0.0424, None, None, _quoted("Hou et al., ICML 2025")),
    "HSTU (eSASRec authors' run)": _row(0.0788, 0.0439, None, None, f"{ESASREC} ('Calculated')"),
    "FuXi-α (eSASRec authors' run)": _row(0.0809, 0.0451, None, None, f"{ESASREC} ('Calculated')"),
    "DuoRec (as quoted)": _row(0.0845, 0.0443, None, None, _quoted("Qiu et al., WSDM 2022")),
    "FEARec (RecBole re-run)": _row(0.0854, 0.0433, None, None, RECBOLE),
    "SASRec, sampled softmax (eSASRec authors' run)": _row(0.0921, 0.0531, None, None, f"{ESASREC} ('SASRec+SS')"),
    "eSASRec": _row(0.0928, 0.0523, None, None, f"{ESASREC} ('Calculated')"),
    "BSARec": _row(0.1008, 0.0611, None, None, BSAREC),
}


def published() -> dict[str, dict]:
    """{model: {full_hr@10, full_ndcg@10, hr@10, ndcg@10, source}} (None where not published), a copy."""
    return {name: dict(values) for name, values in PUBLISHED.items()}
