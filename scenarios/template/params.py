"""The template's parameters. Every field is a command-line flag: `--data.num_samples 500`, `--model.graph.units 64`.

Rules (paiargparse reads the annotations at runtime): no `from __future__ import annotations` here, list fields typed
`typing.List[...]`, no TensorFlow import (parsing flags stays cheap). Put defaults here and only here; check values
in `validate()` and raise `ConfigError` naming the flag, the value and the fix.
"""

from dataclasses import dataclass, field

from paiargparse import pai_dataclass, pai_meta

from tfaip_core import (
    ConfigError,
    DataBaseParams,
    EvaluatorBaseParams,
    GraphBaseParams,
    ModelBaseParams,
    ProcessorPipelineParams,
    ScenarioBaseParams,
)

from .processors import ScaleParams


@pai_dataclass
@dataclass
class TemplateDataParams(DataBaseParams):
    """`--data.*`: where the samples come from. TODO: your paths, sizes, options."""

    dim: int = field(default=8, metadata=pai_meta(help="Numbers per sample. Defaults to 8."))
    num_samples: int = field(default=1000, metadata=pai_meta(help="Training samples. Defaults to 1000."))
    num_val_samples: int = field(default=200, metadata=pai_meta(help="Validation samples. Defaults to 200."))
    # pre-processing that runs by default (users may replace the list with --data.pre_proc.processors ...)
    pre_proc: ProcessorPipelineParams = field(
        default_factory=lambda: ProcessorPipelineParams(processors=[ScaleParams()]),
        metadata=pai_meta(help="Pre-processing: scale the inputs."),
    )

    def validate(self) -> None:
        super().validate()
        for name in ("dim", "num_samples", "num_val_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--data.{name} must be >= 1; got {getattr(self, name)}. Fix: pass a positive count.")


@pai_dataclass
@dataclass
class TemplateGraphParams(GraphBaseParams):
    """`--model.graph.*`: the network's shape. TODO: your layers."""

    units: int = field(default=32, metadata=pai_meta(help="Units of the hidden layer. Defaults to 32."))

    def validate(self) -> None:
        super().validate()
        if self.units < 1:
            raise ConfigError(f"--model.graph.units must be >= 1; got {self.units}. Fix: e.g. 32.")


@pai_dataclass
@dataclass
class TemplateModelParams(ModelBaseParams):
    """`--model.*`: what the model needs besides the graph (class counts, loss weights ...)."""

    graph: TemplateGraphParams = field(
        default_factory=TemplateGraphParams, metadata=pai_meta(fix_dc=True, help="The network.")
    )
    num_classes: int = field(default=2, metadata=pai_meta(help="Number of classes. Defaults to 2."))


@pai_dataclass
@dataclass
class TemplateScenarioParams(ScenarioBaseParams):
    """The scenario's three parts, each a "flat" group (its flags start at the root: --data, --model, --evaluator)."""

    data: TemplateDataParams = field(
        default_factory=TemplateDataParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The data.")
    )
    model: TemplateModelParams = field(
        default_factory=TemplateModelParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The model.")
    )
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The evaluator.")
    )
