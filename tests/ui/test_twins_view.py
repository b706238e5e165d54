"""The product page's "What the single-task twins say": the twins' stored answers beside the shared model's,
and a plain line when they are not shipped; the review result's note on the sentiment twin."""

from __future__ import annotations

import re

import pytest

from guide.config import DEFAULT_CHECKPOINT
from guide.model.twin_artifact import ARTIFACT, DEFAULT_OUT
from guide.serving.twins import StoredTwins
from tests.ui.app_driver import captions, no_problems, open_page, run_app, send_review

pytest_plugins = ["tests.core_fixtures"]
HEADING = "#### What the single-task twins say"


def _reviewed_item(service) -> str:
    """The catalogue product with the most shipped reviews (the page compares up to 20 of them)."""
    reviews = service.guide.reviews
    return reviews.loc[reviews["item_id"].isin(service.row_of), "item_id"].value_counts().index[0]


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture
def tiny_app(tiny_checkpoint_dir, artifact, tmp_path, monkeypatch):
    """The app serving the tiny model with its tiny twins' artifact, on a throwaway database."""
    from guide.ui import state

    monkeypatch.setenv("GUIDE_CHECKPOINT", str(tiny_checkpoint_dir))
    monkeypatch.setenv("GUIDE_TWINS", str(artifact))
    monkeypatch.setenv("GUIDE_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    state.load_service.clear()
    yield state.load_service()
    state.load_service.clear()


def test_product_page_puts_each_twin_beside_the_shared_model(tiny_app):
    item = _reviewed_item(tiny_app)
    at = run_app()
    open_page(at, "product", product=item)
    no_problems(at)
    view = tiny_app.twin_view(_session(at), item)
    markdown = _markdown(at)
    assert HEADING in markdown and "| tag | shared model | attributes twin |" in markdown
    assert "| shared model | purchase twin |" in markdown
    assert markdown.index("The model's tags") < markdown.index(HEADING)  # after the main predictions
    text = captions(at)
    share = view.agreeing / view.reviews
    assert f"Same label on {view.agreeing} of {view.reviews} reviews ({share:.0%})" in text
    assert f"read differently: {len(view.disagreements)}" in text
    shown_twin = re.search(r"attributes twin \*(.+?)\* \((\d+)%\)", text)
    assert shown_twin and shown_twin.group(2) == f"{view.twin_category_prob:.0%}".rstrip("%")
    common = {i for i, _, _ in view.shopper.model_picks} & {i for i, _, _ in view.shopper.twin_picks}
    assert f"next products: {len(common)} in common" in text and "Profile twin:" in text


def _session(at):
    from guide.serving.views import Session

    return Session(at.session_state["persona"], at.session_state["visitor"])


def test_review_result_says_why_the_sentiment_twin_has_no_verdict(tiny_app):
    item = _reviewed_item(tiny_app)
    at = run_app()
    open_page(at, "product", product=item)
    send_review(at, 2, "The pump broke on day two and it smells like glue.")
    no_problems(at)
    assert at.success[0].value.startswith("Review saved")
    assert "has no verdict on a new review" in captions(at)


@pytest.mark.usefixtures("database")
def test_product_page_says_the_twins_are_not_shipped(monkeypatch, tmp_path):
    from guide.ui import state

    service = state.load_service()
    monkeypatch.setattr(service, "twins", StoredTwins(service.guide.checkpoint, tmp_path / "twins.npz"))
    at = run_app()
    open_page(at, "product", product=_reviewed_item(service))
    no_problems(at)
    assert HEADING in _markdown(at) and "| tag | shared model |" not in _markdown(at)
    assert "are not shipped (twins.npz is absent)" in captions(at).replace("\\", "")


@pytest.mark.usefixtures("database")
def test_shipped_twins_belong_to_the_shipped_model():
    """The committed artifact was exported for the committed model: a stale one would show nothing."""
    from guide.ui import state

    if not (DEFAULT_OUT / ARTIFACT).exists():
        pytest.skip(f"no {DEFAULT_OUT / ARTIFACT}: run `python -m guide twins`")
    service = state.load_service()
    assert service.twins.path == DEFAULT_OUT / ARTIFACT
    assert service.guide.checkpoint.meta["folder"] == str(DEFAULT_CHECKPOINT)
    assert service.twins.ready(), service.twins.note
    at = run_app()
    session = _session(at)
    reviews = service.guide.reviews
    reviewed = reviews.loc[reviews["item_id"].isin(service.row_of), "item_id"].value_counts().index[:40]
    views = {item: service.twin_view(session, item) for item in reviewed}
    item = max(views, key=lambda i: (len(views[i].disagreements), views[i].reviews))  # one the twin reads differently
    view = views[item]
    open_page(at, "product", product=item)
    no_problems(at)
    assert "| tag | shared model | attributes twin |" in _markdown(at)
    assert f"Same label on {view.agreeing} of {view.reviews} reviews" in captions(at)
    for review in view.disagreements[:4]:
        assert f"shared model **{review.model_label}** · twin **{review.twin_label}**" in captions(at)
    send_review(at, 4, "Light, absorbs fast, but the pump sticks.")
    no_problems(at)
    note = service.twin_review_note()
    assert "MB" in note and note in captions(at).replace("\\", "")  # the measured sizes, from the artifact
