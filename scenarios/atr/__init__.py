"""Printed text-line recognition with CTC (see `scenarios.atr.scenario`)."""
