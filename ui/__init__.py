"""Streamlit-side helpers shared by the pages: view state, basemaps, attribution."""
