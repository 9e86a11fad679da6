"""Parameters of a scenario's model and graph (`--model.*`, `--model.graph.*`)."""

from dataclasses import dataclass

from paiargparse import pai_dataclass


@pai_dataclass
@dataclass
class GraphBaseParams:
    """Base of graph parameters; a model selects its graph with `--model.graph NAME`."""

    def validate(self) -> None:
        """Raise `ConfigError` for a `--model.graph.*` value that cannot work (e.g. a dropout >= 1).

        Graphs override it (call `super().validate()`); `ModelBaseParams.validate` calls it before anything is
        written, so a bad value is reported against its flag instead of failing later inside Keras.
        """


@pai_dataclass
@dataclass
class ModelBaseParams:
    """Base of a scenario's model parameters; scenarios subclass it (typically adding `graph`)."""

    def validate(self) -> None:
        """Raise `ConfigError` for a `--model.*` value that cannot work (e.g. `num_classes` 0).

        Called with every run's params before anything is written. Scenarios override it to check their own
        fields (call `super().validate()`), so that a bad value is reported against its flag instead of failing
        later inside Keras. The base checks the graph (`--model.graph`), if the model has one.
        """
        graph = getattr(self, "graph", None)
        if isinstance(graph, GraphBaseParams):
            graph.validate()
