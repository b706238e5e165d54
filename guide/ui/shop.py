"""Shop page: search, filter and sort the whole catalogue. 'For you' is the model's purchase likelihood."""

from __future__ import annotations

import streamlit as st

from guide.serving.personas import NEW_SHOPPER
from guide.serving.shop import SORTS
from guide.serving.views import Filters
from guide.ui import components, state
from guide.ui.visuals import md_text

PRICE_STOPS = (0, 10, 20, 30, 50, 75, 100, 150, 250, 500, 2000)
PAGE_SIZE = 24


def _first_page() -> None:
    st.session_state.pop("shop_page", None)  # the pager comes back on page 1


def _searched() -> None:
    """A new search sorts by relevance (the shopper can still pick 'For you'); clearing it goes back."""
    _first_page()
    searching = bool(st.session_state.get("shop_query", "").strip())
    if searching and st.session_state.get("shop_sort", SORTS[0]) == "For you":
        st.session_state.shop_sort = "Best match"
    elif not searching and st.session_state.get("shop_sort") == "Best match":
        st.session_state.shop_sort = "For you"


def _filters(facets: dict) -> Filters:
    with st.expander("Filters", icon=":material/tune:"):
        left, right = st.columns(2)
        categories = left.multiselect(
            "Category", facets["categories"], key="shop_categories", on_change=_first_page, placeholder="Any category"
        )
        tags = right.multiselect(
            "Tags",
            facets["tags"],
            key="shop_tags",
            on_change=_first_page,
            placeholder="Any tag",
            help="The catalogue's own tags; for products without any (most Amazon items), the model's.",
        )
        brands = left.multiselect(
            "Brand", facets["brands"], key="shop_brands", on_change=_first_page, placeholder="Any brand"
        )
        low, high = right.select_slider(
            "Price (USD)",
            PRICE_STOPS,
            value=(PRICE_STOPS[0], PRICE_STOPS[-1]),
            key="shop_price",
            on_change=_first_page,
            format_func=lambda v: "any" if v == PRICE_STOPS[-1] else f"${v}",
            help="A price range hides products whose price is unknown.",
        )
    return Filters(
        tuple(categories),
        tuple(tags),
        tuple(brands),
        None if low == PRICE_STOPS[0] else float(low),
        None if high == PRICE_STOPS[-1] else float(high),
    )


def main() -> None:
    svc, session = state.service(), state.current()
    persona = svc.persona(session.persona_id)
    title, tour = st.columns([3, 1], vertical_alignment="bottom")
    title.title("Shop")
    if not state.read_only() and tour.button(
        "Take the tour",
        icon=":material/tour:",
        type="primary",
        key="take_tour",
        help="Six steps through what the one shared model does, on a sandbox shopper: nothing touches your shop.",
    ):
        state.open_tour()
    components.shopper_line(svc, session)
    who = "you (a new shopper)" if persona.persona_id == NEW_SHOPPER else "this shopper"
    st.markdown(
        f"<span class='g-hint'>{len(svc.items):,} real products from Amazon and Sephora. "
        f"**For you** ranks them by the model's probability that {who} buys each one next, "
        "read from their history; it changes as soon as you buy or review something.</span>",
        unsafe_allow_html=True,
    )  # our own static sentence; no user or catalogue text
    search, sort = st.columns([3, 1], vertical_alignment="bottom")
    query = search.text_input(
        "Search",
        key="shop_query",
        on_change=_searched,
        max_chars=200,
        placeholder="Try “gentle cleanser for dry skin” or “vanilla perfume”",
        help="Semantic search (MiniLM sentence embeddings) blended with keywords.",
    )
    order = sort.selectbox("Sort by", SORTS, key="shop_sort", on_change=_first_page)
    filters = _filters(svc.facets())
    try:
        result = svc.browse(session, query, filters, order, st.session_state.get("shop_page", 1), PAGE_SIZE)
    except ValueError as error:
        st.error(md_text(error))
        st.stop()
    found = f"{result.total:,} products" + (f" matching “{md_text(result.query)}”" if result.query else "")
    st.caption(f"{found} · sorted {result.sort} · page {result.page} of {result.pages}")
    if result.notice:
        st.info(result.notice, icon=":material/waving_hand:")
    components.product_grid(result.cards, "shop")
    if result.pages > 1:
        st.pagination(result.pages, key="shop_page", max_visible_pages=5)


main()
