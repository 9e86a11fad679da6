"""Parameters of a scenario's evaluator (`--evaluator.*`)."""

from dataclasses import dataclass

from paiargparse import pai_dataclass


@pai_dataclass
@dataclass
class EvaluatorBaseParams:
    """Base of evaluator parameters; scenarios subclass it when their evaluator is configurable."""

    def validate(self) -> None:
        """Raise `ConfigError` for an `--evaluator.*` value that cannot work.

        Called with every run's params before anything is written; the base has no fields. Scenarios override it
        to check their own fields (call `super().validate()`), so a bad value is reported against its flag.
        """
