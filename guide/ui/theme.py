"""The shop's look: one static stylesheet of our own (colours and fonts live in .streamlit/config.toml)."""

from __future__ import annotations

import streamlit as st

CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem; padding-bottom: 3rem; }
.g-card { display: flex; flex-direction: column; gap: .2rem; }
.g-card .g-swatch { border-radius: .6rem; display: block; }
.g-cat { font-size: .72rem; letter-spacing: .06em; text-transform: uppercase; color: #8A6F77;
         margin-top: .45rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.g-title { font-weight: 600; font-size: .95rem; line-height: 1.3; min-height: 2.6em;
           display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.g-meta { font-size: .8rem; color: #6B5E62; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.g-tags { min-height: 1.5rem; overflow: hidden; white-space: nowrap; }
.g-chip { display: inline-block; padding: .05rem .5rem; margin: .15rem .3rem 0 0; border-radius: 999px;
          background: #F6ECE8; color: #6B3A4A; font-size: .7rem; }
.g-chip.model { background: #EAF1F8; color: #2D5B82; }
.g-fit { font-size: .8rem; color: #3B2F33; margin-top: .25rem; }
.g-fit.muted { color: #8A7D81; font-style: italic; }
.g-bar { height: .35rem; background: #F1E6E2; border-radius: 999px; margin-bottom: .2rem; overflow: hidden; }
.g-bar span { display: block; height: 100%; border-radius: 999px;
              background: linear-gradient(90deg, #E39B3B, #B4235A); }
.g-rank { font-size: .74rem; color: #6B5E62; margin-top: .1rem; }
.g-rank b { color: #3B2F33; }
.g-hero .g-swatch { border-radius: .9rem; }
.st-key-tour_head h3 { padding-top: 0; }
.st-key-tour_story p { margin-bottom: .1rem; }
.st-key-outcome [data-testid="stAlertContainer"], .st-key-tour_outcome [data-testid="stAlertContainer"] {
  padding: .5rem .9rem; }
.st-key-outcome table, .st-key-tour_outcome table { font-size: .8rem; }
.st-key-outcome td, .st-key-tour_outcome td, .st-key-outcome th, .st-key-tour_outcome th { padding: .2rem .45rem; }
[class*="st-key-review-title-"] [data-testid="stText"] { font-weight: 600; }
.g-hint { color: #6B5E62; font-size: .88rem; }
@media (max-width: 640px) {
  .g-title { font-size: .9rem; }
  .g-hero .g-swatch { max-height: 9rem; }
  h1 { font-size: 1.7rem !important; }
}
</style>
"""


def apply() -> None:
    st.html(CSS)
