"""The Tune page: rule controls, curves, presets and the outcome map."""
