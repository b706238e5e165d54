"""The server-side time of a click's rerun (guide/ui/reruns.py): what GUIDE_RERUN_LOG gets, read back.

AppTest runs the whole script on every click, so here every line is a page's run (`panel_only` False); the
browser tests check the panels' own reruns under `streamlit run`."""

from __future__ import annotations

import json
import re

import pytest

from tests.ui.app_driver import amazon_item, no_problems, open_page, run_app, send_review

pytestmark = pytest.mark.usefixtures("database")  # the app's throwaway database (tests/ui/conftest.py)


@pytest.fixture
def rerun_log(tmp_path, monkeypatch):
    path = tmp_path / "reruns.jsonl"
    monkeypatch.setenv("GUIDE_RERUN_LOG", str(path))
    return path


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_send_review_and_cart_each_log_one_line_with_the_pass_the_panel_shows(rerun_log):
    at = run_app()
    item = amazon_item(at)
    open_page(at, "product", product=item)
    assert lines(rerun_log) == []  # opening a page is not a timed click
    at.button(key="act_cart").click().run()
    send_review(at, 4, "Lovely texture, it sinks in fast and the scent fades quickly.")
    no_problems(at)
    cart, review = lines(rerun_log)
    assert (cart["action"], cart["item"]) == ("cart", item) and (review["action"], review["item"]) == (
        "send_review",
        item,
    )
    shown = int(re.search(r"forward pass of the shared model \((\d+) ms", at.success[0].value).group(1))
    assert round(review["pass_ms"]) == shown  # the same pass the result panel reports
    assert review["run_ms"] >= review["pass_ms"] > 0 and review["panel_only"] is False
    assert 0 < review["cpu_ms"] <= review["run_ms"] + 1  # one thread's CPU inside the run's wall time
    assert review["wait_ms"] is None or review["wait_ms"] >= 0
    assert "rerun_mark" not in at.session_state  # the clock stopped with its run
    at.run()
    assert len(lines(rerun_log)) == 2  # a rerun with no click logs nothing


def test_a_rejected_review_is_timed_too_and_nothing_about_the_shopper_is_written(rerun_log):
    at = run_app()
    open_page(at, "product", product=amazon_item(at))
    send_review(at, None, "No stars given")
    (line,) = lines(rerun_log)
    assert line["action"] == "send_review" and line["pass_ms"] is None  # no pass ran
    written = rerun_log.read_text()
    assert at.session_state["visitor"] not in written and "No stars given" not in written


def test_without_the_variable_nothing_is_timed(monkeypatch):
    monkeypatch.delenv("GUIDE_RERUN_LOG", raising=False)
    at = run_app()
    open_page(at, "product", product=amazon_item(at))
    send_review(at, 5, "Great.")
    no_problems(at)
    assert "rerun_mark" not in at.session_state
