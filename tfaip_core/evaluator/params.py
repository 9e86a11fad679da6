"""Parameters of a scenario's evaluator (`--evaluator.*`)."""

from dataclasses import dataclass

from paiargparse import pai_dataclass


@pai_dataclass
@dataclass
class EvaluatorBaseParams:
    """Base of evaluator parameters; scenarios subclass it when their evaluator is configurable."""
