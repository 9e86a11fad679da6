"""Regression on scikit-learn's diabetes data in one file: the minimal scenario (see `scenarios.minimal.scenario`)."""
