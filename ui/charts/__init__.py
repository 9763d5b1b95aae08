"""Plotly charts: Trends (:mod:`.trends`) and a trained model's report (:mod:`.models`)."""
