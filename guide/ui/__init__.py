"""Streamlit pages and their parts: the only package that imports streamlit. See app.py."""
