"""Handwritten-digit classification: the tutorial scenario (see `scenarios.tutorial.scenario`)."""
