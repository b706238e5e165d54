"""guide.training.finetune / staged and guide.model.sentence: token draws in length buckets, stage 2 moving the
real encoder and resuming to the same weights, the exported encoder serving what training computed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from guide.config import ATTRIBUTES, SENTIMENT, FinetuneConfig, ModelConfig
from guide.model.sentence import TokenTable, embed_tokens, export, load_trainable
from guide.training.batches import TaskSampler, length_buckets
from guide.training.finetune import encode_tokens, finetune_encoder, text_tokens
from guide.training.trainer import build_model

pytest.register_assert_rewrite("tests.core_fixtures")

from tests.core_fixtures import tiny_model_config, tiny_train_config  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

TUNE = FinetuneConfig(steps=4, batch_size=4, max_tokens=16, eval_every=2, eval_texts=8, refit_steps=2)


def _config():
    """The tiny training configuration without the lexical branch (the fixture's data has short texts)."""
    return tiny_train_config(model=tiny_model_config(ngram_dim=0, wide=False))


@pytest.fixture(scope="module")
def sentence_model():
    return load_trainable(max_tokens=TUNE.max_tokens)


@pytest.fixture(scope="module")
def tokens(small_catalog, task_data, sentence_model):
    return text_tokens(small_catalog, task_data, sentence_model.tokenizer, TUNE.max_tokens)


def test_token_tables_cut_at_the_limit_and_pad_to_the_longest_text(sentence_model):
    table = TokenTable.build(sentence_model.tokenizer, ["Love it!", "word " * 50], max_tokens=16)
    assert list(table.lengths) == [5, 16]  # [CLS] love it ! [SEP]; the long one cut at 16 ids
    batch = table.batch([0, 1], "cpu")
    assert batch["input_ids"].shape == (2, 16)
    assert batch["attention_mask"].sum(1).tolist() == [5, 16]
    assert batch["input_ids"][0, 5:].eq(0).all()


def test_length_buckets_split_rows_by_length_into_equal_groups():
    lengths = np.array([9, 1, 5, 3, 7, 2, 8, 4])
    groups = length_buckets(np.arange(8), lengths, 2)
    assert [sorted(lengths[g]) for g in groups] == [[1, 2, 3, 4], [5, 7, 8, 9]]


def test_token_draws_come_from_one_length_bucket(task_data, tokens):
    sampler = TaskSampler(task_data, 8, 16, np.random.default_rng(0), "cpu", format_share=0.5)
    sampler.use_tokens(tokens, buckets=4)
    for _ in range(5):
        batch, _ = sampler.draw(SENTIMENT)
        lengths = batch["reviews"]["tokens"]["attention_mask"].sum(1).numpy()
        assert len(lengths) == batch["reviews"]["emb"].shape[0]
        buckets = [b for s in sampler.review_buckets.values() for b in s]
        assert any(lengths.min() >= 0 for _ in buckets)
        batch, _ = sampler.draw(ATTRIBUTES)
        items = batch["items"]
        assert items["tokens"]["input_ids"].shape[0] == items["emb"].shape[0]
    spread = []
    for _ in range(20):  # one bucket per draw: the spread of lengths inside a draw stays below the whole range
        batch, _ = sampler.draw(SENTIMENT)
        lengths = batch["reviews"]["tokens"]["attention_mask"].sum(1).numpy()
        spread.append(lengths.max() - lengths.min())
    whole = tokens.reviews.lengths[np.concatenate(list(sampler.review_rows.values()))]
    assert np.median(spread) < whole.max() - whole.min()


def test_short_text_draws_carry_the_short_texts_tokens(task_data, tokens):
    sampler = TaskSampler(task_data, 16, 16, np.random.default_rng(0), "cpu", sentence_share=1.0)
    sampler.use_tokens(tokens)
    pool = {tuple(ids.tolist()) for ids in tokens.short.ids}
    reviews = {tuple(ids.tolist()) for ids in tokens.reviews.ids}
    shown = []
    for _ in range(20):  # only the sampled reviews that gave short texts can show one
        batch, _ = sampler.draw(SENTIMENT)
        shown += [tuple(t for t in row if t) for row in batch["reviews"]["tokens"]["input_ids"].tolist()]
    assert all(row in pool or row in reviews for row in shown)
    assert sum(row in pool for row in shown) > 0
    without = dataclasses.replace(tokens, short=None)
    with pytest.raises(ValueError, match="short texts"):
        sampler.use_tokens(without)


def test_a_token_draw_reaches_the_encoder_with_gradients(task_data, tokens, sentence_model):
    encoder = sentence_model
    config = _config()
    model = build_model(task_data, config)
    sampler = TaskSampler(task_data, 4, 16, np.random.default_rng(1), "cpu")
    sampler.use_tokens(tokens)
    batch, targets = sampler.draw(SENTIMENT)
    logits = model(encode_tokens(batch, encoder))[SENTIMENT]
    logits.sum().backward()
    top = encoder[0].auto_model.encoder.layer[-1].output.dense.weight
    assert top.grad is not None and top.grad.abs().sum() > 0


def _stage2(task_data, catalog, run_dir, stop_after=None):
    torch.manual_seed(0)
    model = build_model(task_data, _config())
    return finetune_encoder(model, catalog, task_data, _config(), TUNE, run_dir, True, False, stop_after)


def test_stage2_moves_the_encoder_and_a_resumed_run_ends_where_an_uninterrupted_one_does(
    task_data, small_catalog, tmp_path
):
    straight_encoder, straight_model, meta = _stage2(task_data, small_catalog, tmp_path / "a")
    assert meta["done"] and meta["steps"] == TUNE.steps
    assert [h["step"] for h in meta["history"]] == [2, 4]
    assert set(meta["history"][0]["val"]) >= {"category_accuracy", "sentiment_amazon", "sentiment_clothing"}
    base = load_trainable(max_tokens=TUNE.max_tokens).state_dict()
    moved = straight_encoder.state_dict()
    assert any(not torch.equal(base[k], moved[k]) for k in base)

    _, _, first = _stage2(task_data, small_catalog, tmp_path / "b", stop_after=2)
    assert not first["done"] and first["steps"] == 2
    resumed_encoder, resumed_model, second = _stage2(task_data, small_catalog, tmp_path / "b")
    assert second["done"] and [h["step"] for h in second["history"]] == [2, 4]
    for name, value in straight_model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[name]), name
    for name, value in moved.items():
        assert torch.equal(value, resumed_encoder.state_dict()[name]), name


@pytest.mark.parametrize("task", [SENTIMENT, ATTRIBUTES])
def test_a_single_task_stage2_fine_tunes_and_watches_only_its_own_task(task_data, small_catalog, tmp_path, task):
    """A fair twin fine-tunes its own encoder: stage 2 with one task runs and watches that task alone."""
    config = tiny_train_config(model=tiny_model_config(ngram_dim=0, wide=False, tasks=(task,)))
    torch.manual_seed(0)
    model = build_model(task_data, config)
    encoder, _, meta = finetune_encoder(model, small_catalog, task_data, config, TUNE, tmp_path, True, False)
    assert meta["done"] and meta["steps"] == TUNE.steps
    watched = set(meta["history"][-1]["val"])
    assert watched == ({"category_accuracy"} if task == ATTRIBUTES else {"sentiment_amazon", "sentiment_clothing"})
    base = load_trainable(max_tokens=TUNE.max_tokens).state_dict()
    assert any(not torch.equal(base[k], encoder.state_dict()[k]) for k in base)


def test_the_exported_encoder_serves_what_training_computed(sentence_model, tmp_path, embedding_dir):
    encoder = sentence_model
    from guide.data.text import EmbeddingCache, Encoder

    texts = ["Not bad at all, I'd buy it again.", "face serum for dry skin"]
    encoder.eval()
    table = TokenTable.build(encoder.tokenizer, texts, TUNE.max_tokens)
    with torch.no_grad():
        live = embed_tokens(encoder, table.batch(range(2), "cpu")).numpy()
    model_id = export(encoder, tmp_path / "encoder")
    assert model_id == export(encoder, tmp_path / "again")  # the id names the weights
    served = Encoder(str(tmp_path / "encoder"), EmbeddingCache(tmp_path / "cache", model_id=model_id))
    vectors = served.embed(texts, persist=False)
    assert served.cache.folder.name == model_id
    assert np.allclose((vectors * live).sum(1), 1.0, atol=2e-3)  # float16 storage loses nothing measurable


def test_a_checkpoint_reads_its_own_encoder_and_refuses_a_missing_one(tiny_checkpoint, tmp_path, sentence_model):
    encoder = sentence_model
    from guide.model.checkpoint import Checkpoint
    from guide.training.staged import save_with_encoder

    model_id = export(encoder, tmp_path / "trained-encoder")
    model = build_model_like(tiny_checkpoint, encoder="encoder", encoder_id=model_id)
    checkpoint = dataclasses.replace(tiny_checkpoint, model=model)
    folder = save_with_encoder(checkpoint, tmp_path / "trained-encoder", tmp_path / "ckpt")
    loaded = Checkpoint.load(folder)
    served = loaded.sentence_encoder(tmp_path / "cache")
    assert served.name == str(folder / "encoder") and served.cache.model_id == model_id
    import shutil

    shutil.rmtree(folder / "encoder")
    with pytest.raises(FileNotFoundError, match="encoder"):
        Checkpoint.load(folder).sentence_encoder(tmp_path / "cache")


def build_model_like(checkpoint, **changes):
    from guide.model import GuideModel

    model = GuideModel(dataclasses.replace(checkpoint.model.config, **changes))
    model.load_state_dict(checkpoint.model.state_dict())
    return model


def test_configs_refuse_what_cannot_train():
    with pytest.raises(ValueError, match="max_tokens"):
        FinetuneConfig(max_tokens=4)
    with pytest.raises(ValueError, match="freeze_layers"):
        FinetuneConfig(freeze_layers=7)
    with pytest.raises(ValueError, match="encoder"):
        ModelConfig(encoder="encoder")  # no id: its embeddings could not be cached apart
    with pytest.raises(ValueError, match="ngram_dim"):
        ModelConfig(ngram_dim=-1)


def test_a_model_without_the_lexical_branch_has_no_ngram_table(task_data):
    model = build_model(task_data, _config())
    assert model.encoder.ngrams is None and not len(model.wide)
    assert not any("ngram" in name for name, _ in model.named_parameters())


def test_stage3_may_add_the_lexical_branch_on_a_warm_model_and_nothing_else(task_data):
    from guide.training.trainer import _warm_start

    warm = build_model(task_data, _config()).state_dict()
    with_ngrams = build_model(task_data, tiny_train_config(model=tiny_model_config(ngram_dim=8, wide=True)))
    _warm_start(with_ngrams, warm)  # the n-gram tables stay new, every other weight is the warm one
    assert torch.equal(with_ngrams.state_dict()["encoder.norm_emb.weight"], warm["encoder.norm_emb.weight"])
    other = build_model(task_data, tiny_train_config(model=tiny_model_config(ngram_dim=0, wide=False, hidden=16)))
    with pytest.raises((ValueError, RuntimeError)):
        _warm_start(other, warm)


def test_stage3_draws_more_shoppers_per_purchase_step_only_when_asked():
    from guide.training.staged import ENCODER_FOLDER, refit_config

    config = tiny_train_config()
    same = refit_config(config, dataclasses.replace(TUNE, refit_purchase_users=0), "abc")
    assert same.data == config.data and (same.steps, same.lr) == (TUNE.refit_steps, TUNE.refit_lr)
    assert (same.model.encoder, same.model.encoder_id) == (ENCODER_FOLDER, "abc")
    wider = refit_config(config, dataclasses.replace(TUNE, refit_purchase_users=512), "abc")
    assert wider.data.purchase_users == 512 and config.data.purchase_users != 512
    assert dataclasses.replace(wider.data, purchase_users=config.data.purchase_users) == config.data
    with pytest.raises(ValueError, match="refit_purchase_users.*fix"):
        FinetuneConfig(refit_purchase_users=-1)
