"""guide.model.checkpoint: save -> load rebuilds the same model (float16 storage), and bad folders say how to fix."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, TASKS, TrainConfig
from guide.model.checkpoint import Checkpoint
from guide.model.inputs import shopper_batch, text_block
from guide.model.outputs import eval_candidates

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint_dir) -> Checkpoint:
    return Checkpoint.load(tiny_checkpoint_dir)


@pytest.fixture(scope="module")
def batch(task_data) -> dict:
    """One batch with every task's inputs, from real validation data."""
    part = task_data.purchase["valid"]
    shoppers = slice(0, 16)
    out = shopper_batch(
        task_data,
        part.history[shoppers],
        part.ratings[shoppers],
        eval_candidates(part)[shoppers][:, :20],
        "cpu",
        profile=True,
    )
    out["attr_index"] = torch.arange(min(32, len(out["items"]["emb"])))
    out["reviews"] = text_block(
        task_data.review_emb, task_data.review_ngrams, task_data.review_rows("valid")[:64], "cpu",
        lexicon=task_data.review_lexicon,
    )  # fmt: skip
    return out


def test_round_trip_gives_the_same_outputs(tiny_checkpoint, loaded, batch):
    with torch.no_grad():
        before, after = tiny_checkpoint.model.eval()(batch), loaded.model(batch)
    assert set(before) == set(after) == set(TASKS)
    for task in TASKS:
        scale = max(1.0, float(before[task].abs().max()))
        torch.testing.assert_close(after[task], before[task], atol=1e-2 * scale, rtol=0.0)
    for task in (SENTIMENT, PURCHASE, PROFILE):
        logits = before[task]
        top2 = logits.topk(2, dim=-1).values
        clear = (top2[:, 0] - top2[:, 1]) > 5e-3  # exact near-ties may flip under float16 rounding
        assert clear.any(), task
        assert torch.equal(after[task].argmax(-1)[clear], logits.argmax(-1)[clear]), task


def test_round_trip_keeps_config_vocabularies_and_calibration(tiny_checkpoint, loaded):
    assert loaded.model.config == tiny_checkpoint.model.config
    assert loaded.config.weighting == tiny_checkpoint.config.weighting
    assert loaded.config.data == tiny_checkpoint.config.data
    assert loaded.tags == tiny_checkpoint.tags and loaded.categories == tiny_checkpoint.categories
    assert loaded.calibration == tiny_checkpoint.calibration
    assert loaded.fingerprint == tiny_checkpoint.fingerprint
    assert loaded.meta["best_step"] == tiny_checkpoint.meta["best_step"]
    assert not loaded.model.training  # ready for inference


def test_weights_are_stored_as_float16_and_loaded_as_float32(tiny_checkpoint_dir, loaded):
    stored = load_file(tiny_checkpoint_dir / "model.safetensors")
    assert stored and all(t.dtype == torch.float16 for t in stored.values())
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    document = json.loads((tiny_checkpoint_dir / "config.json").read_text())
    assert document["model"]["num_tags"] == len(loaded.tags)


def test_missing_folder_or_files_raise_with_a_fix_hint(tmp_path, tiny_checkpoint_dir):
    with pytest.raises(FileNotFoundError, match="config.json.*model.safetensors.*fix: train one"):
        Checkpoint.load(tmp_path / "nowhere")
    shutil.copy(tiny_checkpoint_dir / "config.json", tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="fix:"):
        Checkpoint.load(tmp_path)


def test_unknown_format_is_refused(tmp_path, tiny_checkpoint_dir):
    folder = shutil.copytree(tiny_checkpoint_dir, tmp_path / "ckpt")
    document = json.loads((folder / "config.json").read_text())
    document["format"] = 99
    (folder / "config.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="format"):
        Checkpoint.load(folder)


def test_weights_that_do_not_match_the_config_raise_value_error(tmp_path, tiny_checkpoint_dir):
    folder = shutil.copytree(tiny_checkpoint_dir, tmp_path / "ckpt")
    document = json.loads((folder / "config.json").read_text())
    document["model"]["hidden"] *= 2
    (folder / "config.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="does not match"):
        Checkpoint.load(folder)


def _synthetic_checkpoint(**changes) -> Checkpoint:
    from tests.core_fixtures import synthetic_model

    model = synthetic_model()
    values = dict(
        model=model,
        config=TrainConfig(model=model.config),
        tags=[f"tag{i}" for i in range(model.config.num_tags)],
        categories=[f"cat{i}" for i in range(model.config.num_categories)],
        calibration={},
        fingerprint="abc123",
    )
    return Checkpoint(**{**values, **changes})


def test_attribute_split_and_fingerprint_travel_in_the_checkpoint(tmp_path):
    folder = _synthetic_checkpoint(attribute_split="product", meta={"best_step": 3}).save(tmp_path / "ckpt")
    document = json.loads((folder / "config.json").read_text())
    assert document["meta"]["attribute_split"] == "product" and document["fingerprint"] == "abc123"
    loaded = Checkpoint.load(folder)
    assert (loaded.attribute_split, loaded.fingerprint, loaded.meta["best_step"]) == ("product", "abc123", 3)
    assert "attribute_split" not in loaded.meta  # one home for it: the field


def test_a_checkpoint_saved_before_the_split_was_recorded_loads_with_it_unknown(tmp_path):
    folder = _synthetic_checkpoint().save(tmp_path / "ckpt")
    document = json.loads((folder / "config.json").read_text())
    del document["meta"]["attribute_split"]
    (folder / "config.json").write_text(json.dumps(document))
    assert Checkpoint.load(folder).attribute_split == ""


def test_an_unknown_attribute_split_is_refused(tmp_path):
    folder = _synthetic_checkpoint(attribute_split="colour").save(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="expected meta.attribute_split 'brand' or 'product'; got 'colour'; fix:"):
        Checkpoint.load(folder)


def test_save_creates_the_folder_and_a_second_save_replaces_the_first(tmp_path):
    """Checkpoint A, then a different B (other width, sharing, tasks, vocabularies) into the same folder:
    loading gives B alone, and nothing of A is left to mismatch B's config."""
    from tests.core_fixtures import synthetic_model

    torch.manual_seed(0)
    a = _synthetic_checkpoint(fingerprint="aaa", calibration={"tag_thresholds": [0.5] * 5}, meta={"best_step": 1})
    folder = a.save(tmp_path / "a" / "b")  # parents are created
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    torch.manual_seed(1)
    b_model = synthetic_model(
        sharing="hard", hidden=24, num_tags=3, num_categories=2, num_interests=5, tasks=(SENTIMENT, ATTRIBUTES)
    )
    b = _synthetic_checkpoint(
        model=b_model,
        config=TrainConfig(model=b_model.config, weighting="equal"),
        tags=["t0", "t1", "t2"],
        categories=["c0", "c1"],
        fingerprint="bbb",
        calibration={"sentiment_bias": [0.1, 0.0, -0.1]},
        meta={"best_step": 2},
        attribute_split="brand",
    )
    assert set(b.model.state_dict()) != set(a.model.state_dict())
    assert b.save(folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    stored = load_file(folder / "model.safetensors")
    b_state = {k: v for k, v in b.model.state_dict().items() if v.is_floating_point()}
    assert set(stored) == set(b_state)  # none of A's tensors (its other heads, its widths) survive
    assert all(stored[k].shape == b_state[k].shape for k in stored)
    loaded = Checkpoint.load(folder)
    assert loaded.model.config == b.model.config and loaded.model.config != a.model.config
    assert list(loaded.model.heads) == [SENTIMENT, ATTRIBUTES]
    assert (loaded.config.weighting, loaded.tags, loaded.categories) == ("equal", b.tags, b.categories)
    assert (loaded.fingerprint, loaded.calibration, loaded.attribute_split) == ("bbb", b.calibration, "brand")
    assert loaded.meta["best_step"] == 2
    for name, tensor in loaded.model.state_dict().items():
        if name in b_state:  # B's weights, to float16 precision
            torch.testing.assert_close(tensor, b_state[name].half().float(), atol=0, rtol=0, msg=name)


def test_the_device_is_never_stored_nor_replayed(tmp_path, monkeypatch):
    """A checkpoint trained on CUDA (older ones stored `"device": "cuda"`) loads with no device of its own:
    its twins and evaluation run wherever this machine resolves, a CPU one included."""
    from guide.model.device import resolve_device

    checkpoint = _synthetic_checkpoint()
    checkpoint.config.device = "cuda"
    folder = checkpoint.save(tmp_path / "ckpt")
    assert json.loads((folder / "config.json").read_text())["train"]["device"] is None
    document = json.loads((folder / "config.json").read_text())
    document["train"]["device"] = "cuda"  # as an older CUDA-trained checkpoint wrote it
    (folder / "config.json").write_text(json.dumps(document))
    loaded = Checkpoint.load(folder)
    assert loaded.config.device is None
    monkeypatch.delenv("GUIDE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(loaded.config.device).type == expected
