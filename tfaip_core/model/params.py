"""Parameters of a scenario's model and graph (`--model.*`, `--model.graph.*`)."""

from dataclasses import dataclass

from paiargparse import pai_dataclass


@pai_dataclass
@dataclass
class GraphBaseParams:
    """Base of graph parameters; a model selects its graph with `--model.graph NAME`."""


@pai_dataclass
@dataclass
class ModelBaseParams:
    """Base of a scenario's model parameters; scenarios subclass it (typically adding `graph`)."""
