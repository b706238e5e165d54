"""Shopping Guide — `streamlit run app.py`.

A shop over 20,951 real beauty products where one shared multi-task model answers, for the shopper
you pick: how likely they buy each product, what a product is (tags, category), how a review feels,
and what the shopper is into. Pages live in guide/ui/; this file wires navigation, the shopper
picker and deep links (`?product=…`, `?persona=…`, `?tour=N` for the guided tour at step N).
"""

from __future__ import annotations

import logging

import streamlit as st

from guide.serving.shop import StoreUnavailable
from guide.ui import components, reruns, state, theme
from guide.ui.visuals import md_text

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Shopping Guide", page_icon=":material/storefront:", layout="wide")
theme.apply()

pages = {
    "shop": st.Page(state.SHOP, title="Shop", icon=":material/storefront:", url_path="shop", default=True),
    "product": st.Page(
        state.PRODUCT, title="Product", icon=":material/spa:", url_path="product", visibility="hidden"
    ),  # reached from a card or a ?product= link
    "profile": st.Page(state.PROFILE, title="Your profile", icon=":material/person:", url_path="profile"),
    "model": st.Page(state.MODEL, title="The model", icon=":material/neurology:", url_path="model"),
    "tour": st.Page(state.TOUR, title="Tour", icon=":material/tour:", url_path="tour"),
}
page = st.navigation(list(pages.values()), position="top")

service = state.service()
state.sync(service)
components.sidebar(service, tour=page is pages["tour"])

if page is pages["shop"] and st.query_params.get("product"):  # /?product=… opens the product page
    state.open_product(st.query_params["product"])
if page is pages["shop"] and st.query_params.get("tour"):  # /?tour=1 opens the guided tour at that step
    state.open_tour(st.query_params["tour"])

try:
    page.run()
    service.warm_up()  # the encoder loads in the background after the first page, not while it renders
except StoreUnavailable as error:  # the database is down or read-only: say so; the model stays loaded
    st.error(f"Your shop cannot be loaded right now: {md_text(error)}", icon=":material/database:")
finally:
    reruns.close()  # a click that reran the whole page: its server-side time ends here (GUIDE_RERUN_LOG)
