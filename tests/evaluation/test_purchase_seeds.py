"""guide.evaluation.purchase_seeds on a small synthetic slice (no data sets): each seed's run is scored like the
report's rows, the section gives every run with the mean and standard deviation, and a run trained by another
recipe or with the same seed is refused with the fix named."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from guide.config import TrainConfig
from guide.data.purchase_signals import TransitionGraph
from guide.data.task_data import PurchaseSplit
from guide.evaluation import purchase_parts, purchase_seeds
from guide.model.checkpoint import Checkpoint
from guide.model.fusion import Fusion

pytest.register_assert_rewrite("tests.core_fixtures")
from tests.core_fixtures import synthetic_model  # noqa: E402
from tests.synthetic_tasks import CATEGORIES, TAGS, synthetic_task_data  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

ITEMS = 30
FUSION = Fusion(neural=0.5, content=1.0, transitions=0.3)


def _split(rng: np.random.Generator, shoppers: int) -> PurchaseSplit:
    sequences = [rng.choice(ITEMS, int(rng.integers(3, 8)), replace=False).astype(np.int64) for _ in range(shoppers)]
    history = [s[:-1] for s in sequences]
    return PurchaseSplit(
        users=[f"u{i}" for i in range(shoppers)],
        history=history,
        ratings=[np.full(len(h), 4.0, np.float32) for h in history],
        target=np.array([s[-1] for s in sequences], np.int64),
        negatives=None,
        sequences=sequences,
        seen=history,
    )


@pytest.fixture(scope="module")
def data():
    data = synthetic_task_data(items=ITEMS, shoppers=20)
    rng = np.random.default_rng(5)
    data.amazon_rows = np.arange(ITEMS)
    data.purchase = {name: _split(rng, 40) for name in ("train", "valid", "test")}
    data.transitions = TransitionGraph.build(data.purchase["train"].sequences, ITEMS)
    return data


def _run(folder, seed: int, **config) -> tuple[Checkpoint, object]:
    """A saved checkpoint of the synthetic model whose weights and recorded seed are `seed`'s."""
    torch.manual_seed(seed)
    model = synthetic_model("mmoe", num_items=ITEMS).eval()
    checkpoint = Checkpoint(
        model,
        TrainConfig(seed=seed, model=model.config, **config),
        TAGS,
        CATEGORIES,
        {"purchase_fusion": FUSION.to_dict()},
        meta={"stages": {"stage1": {"steps": 20, "lr": 1e-3, "seconds": seed}, "stage2": {"finetune": {}}}},
    )
    return checkpoint, checkpoint.save(folder)


def test_every_seed_is_scored_like_the_report_and_summarised(data, tmp_path):
    base, _ = _run(tmp_path / "a", 13)
    base = Checkpoint.load(tmp_path / "a")  # as evaluated: read back (float16 weights)
    others = [_run(tmp_path / name, seed)[1] for name, seed in (("b", 14), ("c", 15))]
    values = purchase_parts.part_values(base.model, data, "test", "cpu", FUSION)
    section = purchase_seeds.seed_section(base, purchase_seeds.means(values), others, data, None, "cpu")
    assert [run["seed"] for run in section["runs"]] == [13, 14, 15]
    key = f"{purchase_parts.FUSED} · full_hr@10"
    assert section["runs"][0][key] == pytest.approx(values[purchase_parts.FUSED]["full_hr@10"].mean())
    third = Checkpoint.load(others[1])
    expected = purchase_parts.part_values(third.model, data, "test", "cpu", FUSION)[purchase_parts.HEAD]
    assert section["runs"][2][f"{purchase_parts.HEAD} · full_ndcg@10"] == pytest.approx(expected["full_ndcg@10"].mean())
    column = np.array([run[key] for run in section["runs"]])
    assert section["summary"][key] == {"mean": pytest.approx(column.mean()), "std": pytest.approx(column.std(ddof=1))}
    assert len({run[f"{purchase_parts.HEAD} · full_hr@10"] for run in section["runs"]}) > 1  # other weights


def test_a_run_of_another_recipe_or_the_same_seed_is_refused(data, tmp_path):
    base, _ = _run(tmp_path / "a", 13)
    _, other = _run(tmp_path / "b", 14, lr=5e-4)
    with pytest.raises(ValueError, match=r"recipe.*config.lr \(0.002 vs 0.0005\).*fix: train it with the same command"):
        purchase_seeds.seed_section(base, {}, [other], data, None, "cpu")
    _, same = _run(tmp_path / "c", 13)
    values = purchase_parts.part_values(base.model, data, "test", "cpu", FUSION)
    with pytest.raises(ValueError, match=r"different seeds; got \[13, 13\]"):
        purchase_seeds.seed_section(base, purchase_seeds.means(values), [same], data, None, "cpu")


def test_the_recipe_ignores_the_seed_the_device_and_the_stage_timings():
    model = synthetic_model("mmoe", num_items=ITEMS)
    a = Checkpoint(model, TrainConfig(seed=1, device="cuda", model=model.config), TAGS, CATEGORIES, {},
                   meta={"stages": {"stage1": {"steps": 5, "seconds": 1.0, "best_step": 5}}})  # fmt: skip
    b = dataclasses.replace(a, config=dataclasses.replace(a.config, seed=2, device="cpu"),
                            meta={"stages": {"stage1": {"steps": 5, "seconds": 9.0, "best_step": 3}}})  # fmt: skip
    assert purchase_seeds.recipe(a) == purchase_seeds.recipe(b)
    c = dataclasses.replace(b, meta={"stages": {"stage1": {"steps": 6}}})
    assert purchase_seeds.recipe(a) != purchase_seeds.recipe(c)


def test_the_report_shows_each_seed_and_the_mean_and_std(data, tmp_path):
    from guide.evaluation.report_markdown import markdown

    base, _ = _run(tmp_path / "a", 13)
    other = _run(tmp_path / "b", 14)[1]
    values = purchase_parts.part_values(base.model, data, "test", "cpu", FUSION)
    section = purchase_seeds.seed_section(base, purchase_seeds.means(values), [other], data, None, "cpu")
    text = markdown({"purchase_seeds": section})
    key = f"{purchase_parts.FUSED} · full_hr@10"
    runs = [run[key] for run in section["runs"]]
    assert "Purchase over 2 training seeds" in text
    assert f"| 13 | {runs[0]:.4f}" in text and f"| 14 | {runs[1]:.4f}" in text
    assert f"| mean ± std | {np.mean(runs):.4f} ± {np.std(runs, ddof=1):.4f}" in text


def test_peer_seeds_take_the_reports_row_as_its_seed_and_train_the_others(monkeypatch, tmp_path):
    from guide.evaluation import sasrec, sequential
    from tests.evaluation.test_sequential import synthetic_data

    monkeypatch.setattr(sasrec, "SASREC_CACHE", tmp_path)
    trained = []

    def small(data, minutes=90.0, seed=13):  # the "ss" recipe, small enough for the synthetic pool
        trained.append(seed)
        return sequential.fit_sasrec(data, 0.05, recipe="ss", seed=seed, dim=16, negatives=8, cache=tmp_path)

    name = sequential.SASREC_PEERS["ss"]
    monkeypatch.setitem(sequential.PEERS, name, small)
    row = {"full_hr@10": 0.25, "full_hr@10_ci": [0.2, 0.3], "full_ndcg@10": 0.125}  # the report seed's run
    section = purchase_seeds.peer_section(synthetic_data(), {name: [14, 15]}, {name: row})
    assert trained == [14, 15]  # the report's seed is its row: not retrained
    runs = section[name]["runs"]
    assert [run["seed"] for run in runs] == [13, 14, 15]
    assert runs[0] == {"seed": 13, "full_hr@10": 0.25, "full_ndcg@10": 0.125}
    hits = [run["full_hr@10"] for run in runs]
    assert all(0 <= h <= 1 for h in hits)
    assert section[name]["summary"]["full_hr@10"]["mean"] == pytest.approx(np.mean(hits))
    assert section[name]["summary"]["full_hr@10"]["std"] == pytest.approx(np.std(hits, ddof=1))
    assert len(list(tmp_path.glob("sasrec-*.pt"))) == 2  # one cached model per trained seed
    assert section[name]["note"] == purchase_seeds.PEER_NOTE
    with pytest.raises(ValueError, match="different seeds"):
        purchase_seeds.peer_section(synthetic_data(), {name: [13]}, {name: row})
    with pytest.raises(ValueError, match="fix: add --sasrec ss"):  # no row to stand for the report's seed
        purchase_seeds.peer_section(synthetic_data(), {name: [14]}, {})

    # a later session adds seed 16: the saved runs of the same settings stay, others (another recipe) go
    saved = json.loads(json.dumps(section))  # as report.json reads back
    saved[name]["runs"].append({"seed": 17, "full_hr@10": 0.5, "full_ndcg@10": 0.25, "settings": {"dim": 256}})
    trained.clear()
    later = purchase_seeds.peer_section(synthetic_data(), {name: [16]}, {name: row}, saved=saved)
    assert trained == [16]
    assert [run["seed"] for run in later[name]["runs"]] == [13, 14, 15, 16]
    assert later[name]["runs"][1:3] == saved[name]["runs"][1:3]
    assert runs[1]["settings"] == {**dataclasses.asdict(sasrec.RECIPES["ss"]), "dim": 16, "negatives": 8,
                                   "minutes": 0.05}  # fmt: skip


def test_a_peer_seed_names_every_asked_peer_or_one():
    from guide.evaluation.sequential import SASREC_PEERS

    plan = purchase_seeds.peer_plan(["14", "bsarec:15", "15"], ("ss",))
    assert plan == {SASREC_PEERS["ss"]: [14, 15], SASREC_PEERS["bsarec"]: [15]}
    assert purchase_seeds.peer_plan([], ()) == {}
    for values, asked, message in ((["14"], (), "fix: add --sasrec"), (["knn:14"], (), "expected a peer in"),
                                   (["bsarec:x"], (), "SEED or PEER:SEED")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            purchase_seeds.peer_plan(values, asked)


def _saved_with_seeds() -> dict:
    """A saved report: the model's rows, a peer's row, and the seed sections made from them."""
    rows = {"MTL": {"full_hr@10": 0.112, "full_ndcg@10": 0.067}, "MTL: head alone": {"full_hr@10": 0.093,
            "full_ndcg@10": 0.055}, "BSARec": {"full_hr@10": 0.099, "full_ndcg@10": 0.059}}  # fmt: skip
    evaluated = {"checkpoint": "evaluated", "seed": 13, **purchase_seeds._flat({row: rows[row] for row in
                 purchase_seeds.ROWS})}  # fmt: skip
    other = {**evaluated, "checkpoint": "runs/seed14", "seed": 14}
    peer = purchase_seeds._summarised([{"seed": 13, **rows["BSARec"]}, {"seed": 14, "full_hr@10": 0.098,
                                       "full_ndcg@10": 0.058}], purchase_seeds.PEER_NOTE)  # fmt: skip
    return {"purchase": {"test": rows}, "purchase_seeds": purchase_seeds._summarised([evaluated, other]),
            "peer_seeds": {"BSARec": peer}}  # fmt: skip


def test_saved_seeds_stay_while_their_rows_match_and_go_when_not():
    saved = _saved_with_seeds()
    same = json.loads(json.dumps({"purchase": saved["purchase"]}))
    holding = purchase_seeds.still_holding(same, saved)
    assert holding == {"purchase_seeds": saved["purchase_seeds"], "peer_seeds": saved["peer_seeds"]}
    retrained = json.loads(json.dumps(same))
    retrained["purchase"]["test"]["MTL: head alone"]["full_hr@10"] = 0.095  # another model
    del retrained["purchase"]["test"]["BSARec"]  # the peer not run this time
    assert purchase_seeds.still_holding(retrained, saved) == {"purchase_seeds": None, "peer_seeds": None}
    assert purchase_seeds.still_holding(same, None) == {"purchase_seeds": None, "peer_seeds": None}


def test_a_saved_full_report_keeps_the_seeds_that_hold_and_a_merge_removes_those_that_do_not(tmp_path):
    from guide.evaluation.report import merge_saved, save_report

    saved = _saved_with_seeds()
    (tmp_path / "report.json").write_text(json.dumps(saved))
    save_report({"purchase": saved["purchase"], "summary": {}}, tmp_path)  # a re-run: the same rows
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["purchase_seeds"] == saved["purchase_seeds"] and written["peer_seeds"] == saved["peer_seeds"]
    moved = json.loads(json.dumps(saved["purchase"]["test"]))
    moved["MTL"]["full_hr@10"] = 0.120
    save_report({"purchase": {"test": moved}}, tmp_path)  # another model: its seeds are not this one's
    written = json.loads((tmp_path / "report.json").read_text())
    assert "purchase_seeds" not in written and written["peer_seeds"] == saved["peer_seeds"]
    merge_saved({"peer_seeds": None, "summary": {"x": 1}}, tmp_path)
    written = json.loads((tmp_path / "report.json").read_text())
    assert "peer_seeds" not in written and written["summary"] == {"x": 1} and written["purchase"]["test"] == moved
