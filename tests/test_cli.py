"""guide.__main__: the command line lists its commands and turns user mistakes into one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from guide.__main__ import main, parser
from guide.config import PROJECT_ROOT, TrainConfig


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
