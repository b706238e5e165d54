"""guide.__main__ and guide.cli: the command line lists its commands and turns user mistakes into one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from guide.__main__ import main, parser
from guide.cli import artifact_commands, evaluation_commands
from guide.config import DEFAULT_CHECKPOINT, PROJECT_ROOT, TrainConfig


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "guide", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "embed", "bench"):
        assert command in result.stdout


def test_train_with_zero_steps_fails_with_a_message_not_a_traceback():
    result = _run("train", "--steps", "0", "--quiet")
    assert result.returncode != 0
    assert "error:" in result.stderr and "steps" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_with_a_missing_data_dir_names_it(tmp_path, capsys):
    assert main(["train", "--steps", "1", "--data-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nowhere" in err and "GUIDE_DATA_DIR" in err


def test_train_with_a_bad_fraction_explains_the_fix(capsys):
    assert main(["train", "--clothing-fraction", "0"]) == 2
    assert "fix:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["train", "--sharing", "soft"], ["train", "--weighting", "x"], ["dance"]])
def test_argument_mistakes_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_train_defaults_build_valid_configs():
    args = parser().parse_args(["train"])
    assert args.tasks.split(",") == ["purchase", "attributes", "sentiment", "profile"]
    assert (args.steps, args.sharing, args.weighting) == (TrainConfig.steps, "mmoe", "uncertainty")


def test_data_fetch_help_names_its_options(capsys):
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(["data", "fetch", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m guide data fetch") and "--dest" in out and "--base-url" in out
    args = parser().parse_args(["data", "fetch", "--dest", "/tmp/d", "--base-url", "https://mirror/{path}"])
    assert (args.command, args.data_command, args.dest, args.base_url) == (
        "data",
        "fetch",
        "/tmp/d",
        "https://mirror/{path}",
    )
    assert args.run is artifact_commands._data_fetch
    with pytest.raises(SystemExit):  # `data` alone names no action
        parser().parse_args(["data"])


def test_evaluate_parses_its_documented_flags():
    args = parser().parse_args(["evaluate", "--full", "--product-twin", "--json", "--no-peers", "--save", "--quiet"])
    assert (args.full, args.product_twin, args.json, args.no_peers, args.save, args.quiet) == (True,) * 6
    assert args.checkpoint == str(DEFAULT_CHECKPOINT) and args.run is evaluation_commands._evaluate
    plain = parser().parse_args(["evaluate", "--checkpoint", "runs/x"])
    assert (plain.full, plain.product_twin, plain.json, plain.no_peers, plain.save) == (False,) * 5
    assert plain.checkpoint == "runs/x" and not plain.fair_twins
    assert parser().parse_args(["evaluate", "--twins", "sentiment", "--fair-twins"]).fair_twins


def test_embed_and_bench_parse_their_flags():
    embed = parser().parse_args(["embed", "--data-dir", "/data"])
    assert (embed.data_dir, embed.run) == ("/data", artifact_commands._embed)
    assert parser().parse_args(["embed"]).data_dir is None
    bench = parser().parse_args(["bench", "--checkpoint", "runs/x", "--repeats", "5"])
    assert (bench.checkpoint, bench.repeats, bench.run) == ("runs/x", 5, artifact_commands._bench)
    assert parser().parse_args(["bench"]).repeats == 30


def test_train_parses_threads_and_the_model_flags():
    args = parser().parse_args(
        ["train", "--threads", "1", "--tasks", "sentiment", "--sharing", "ple", "--steps", "5", "--batch-size", "8"]
    )
    assert (args.threads, args.tasks, args.sharing, args.steps, args.batch_size) == (1, "sentiment", "ple", 5, 8)
    assert parser().parse_args(["train"]).threads == 0  # 0: torch's default
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--threads", "one"])


@pytest.mark.parametrize(
    "error", [ValueError("steps: expected >= 1; fix: pass --steps 10"), FileNotFoundError("no data in /x")]
)
def test_main_turns_user_errors_into_exit_code_2_with_the_message_on_stderr(monkeypatch, capsys, error):
    def fail(args):
        raise error

    monkeypatch.setattr(evaluation_commands, "_evaluate", fail)  # parser() picks the handler up when main builds it
    assert main(["evaluate"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {error}\n" and captured.out == ""


def test_main_returns_the_handlers_code_and_lets_bugs_raise(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(artifact_commands, "_bench", lambda args: seen.append(args.repeats) or 0)
    assert main(["bench", "--repeats", "3"]) == 0 and seen == [3]

    def bug(args):
        raise KeyError("a bug, not a user mistake")

    monkeypatch.setattr(artifact_commands, "_bench", bug)
    with pytest.raises(KeyError):  # only ValueError / FileNotFoundError become exit code 2
        main(["bench"])
    assert capsys.readouterr().err == ""


def test_evaluate_takes_a_sasrec_budget_and_twins_hands_its_flags_to_the_export(monkeypatch, tmp_path):
    args = parser().parse_args(["evaluate", "--sasrec", "--sasrec-minutes", "12.5"])
    assert (args.sasrec, args.sasrec_minutes) == ("ce,ss,bsarec", 12.5)  # every trained peer
    assert parser().parse_args(["evaluate", "--sasrec", "ss"]).sasrec == "ss"
    assert parser().parse_args(["evaluate"]).sasrec_minutes is None
    seen = []
    monkeypatch.setattr("guide.evaluation.twin_export.export", lambda *a, **k: seen.append((a, k)) or artifact)
    artifact = tmp_path / "twins.npz"
    np.savez(artifact, meta=json.dumps({"seconds": 1.0, "twins": {}}))
    twins = parser().parse_args(["twins", "--checkpoint", "runs/x", "--no-measure"])
    assert twins.run(twins) == 0 and seen == [(("runs/x",), {"measured": False})]
    plain = parser().parse_args(["twins"])
    assert plain.run(plain) == 0 and seen[-1] == ((str(DEFAULT_CHECKPOINT),), {"measured": True})


def test_train_sentence_share_reaches_the_data_config():
    from guide.cli.training_commands import _configs

    assert _configs(parser().parse_args(["train"])).data.sentence_share == 0.0  # the shipped model: whole reviews
    assert _configs(parser().parse_args(["train", "--sentence-share", "0.3"])).data.sentence_share == 0.3
    with pytest.raises(ValueError, match="sentence_share"):
        _configs(parser().parse_args(["train", "--sentence-share", "2"]))


def test_seeds_change_training_alone_when_the_data_seed_is_kept():
    from guide.cli.training_commands import _configs, _finetune_config

    kept = _configs(parser().parse_args(["train", "--seed", "14", "--data-seed", "13"]))
    assert (kept.seed, kept.data.seed) == (14, 13)
    both = _configs(parser().parse_args(["train", "--seed", "14"]))  # as before --data-seed: one seed for both
    assert (both.seed, both.data.seed) == (14, 14)
    args = parser().parse_args(
        ["train", "--purchase-users", "64", "--finetune-steps", "9", "--refit-purchase-users", "512"]
    )
    assert _configs(args).data.purchase_users == 64 and _finetune_config(args).refit_purchase_users == 512


def test_seed_checkpoints_belong_to_the_purchase_section(capsys):
    args = parser().parse_args(["evaluate", "--purchase", "--seed-checkpoint", "a", "--seed-checkpoint", "b"])
    assert args.seed_checkpoint == ["a", "b"]
    assert main(["evaluate", "--seed-checkpoint", "a"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--seed-checkpoint" in err and "fix: add --purchase" in err


def test_train_refresh_cache_keeps_a_trial_runs_embeddings_out_of_the_assets(monkeypatch, tmp_path):
    from guide.cli.training_commands import _configs, _staged

    seen = []
    monkeypatch.setattr("guide.data.catalog.Catalog.load", lambda *a, **k: "catalog")
    monkeypatch.setattr("guide.training.staged.staged_training", lambda *a: seen.append(a) or (None, None))
    for extra, expected in (([], None), (["--refresh-cache", str(tmp_path)], str(tmp_path))):
        args = parser().parse_args(["train", "--finetune-steps", "2", "--run-dir", str(tmp_path), *extra])
        assert _staged(args, _configs(args)) is None  # stage 2 "stopped early": nothing saved
        assert seen[-1][0] == "catalog" and seen[-1][-1] == expected  # None: the shipped cache


def test_evaluate_refuses_a_peer_seed_it_cannot_place_before_loading_anything(capsys):
    assert main(["evaluate", "--purchase", "--peer-seed", "knn:14"]) == 2
    assert "expected a peer in" in capsys.readouterr().err
    assert main(["evaluate", "--purchase", "--peer-seed", "14"]) == 2  # no --sasrec peer to re-seed
    assert "fix: add --sasrec" in capsys.readouterr().err
