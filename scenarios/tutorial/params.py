"""Parameters of the tutorial scenario: which digits, which graph."""

from dataclasses import dataclass, field
from typing import List

from paiargparse import pai_dataclass, pai_meta

from tfaip_core import (
    ConfigError,
    DataBaseParams,
    EvaluatorBaseParams,
    GraphBaseParams,
    ModelBaseParams,
    ScenarioBaseParams,
)

DATASETS = ("digits", "mnist", "fashion_mnist")


@pai_dataclass
@dataclass
class TutorialDataParams(DataBaseParams):
    dataset: str = field(
        default="digits",
        metadata=pai_meta(
            choices=list(DATASETS),
            help="digits: scikit-learn's bundled 8x8 digits (offline); mnist / fashion_mnist: 28x28 images through "
            "keras.datasets (downloads once). Defaults to digits.",
        ),
    )
    val_fraction: float = field(
        default=0.2,
        metadata=pai_meta(help="Share of the digits held out for validation (digits only). Defaults to 0.2."),
    )
    files: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="Digit files to predict (tfaip-predict, Predictor.predict): .png or other images (grayscale, raw "
            "pixel values as the dataset stores them), .npy (the raw pixel array) or .npz (arrays img and "
            "optionally gt). Empty: the validation split. Training and validation never read them. Defaults to []."
        ),
    )


@pai_dataclass
@dataclass
class TutorialGraphParams(GraphBaseParams):
    activation: str = field(default="relu", metadata=pai_meta(help="Activation of hidden layers. Defaults to relu."))


@pai_dataclass(alt="MLP")
@dataclass
class MLPParams(TutorialGraphParams):
    nodes: List[int] = field(
        default_factory=lambda: [128, 64], metadata=pai_meta(help="Units of each hidden layer. Defaults to [128, 64].")
    )
    dropout: float = field(default=0.1, metadata=pai_meta(help="Dropout after each hidden layer. Defaults to 0.1."))

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.dropout < 1:
            raise ConfigError(
                f"--model.graph.dropout must be in [0, 1); got {self.dropout}. Fix: e.g. 0.1, or 0 for none."
            )
        if not self.nodes or min(self.nodes) < 1:
            raise ConfigError(f"--model.graph.nodes must be one or more positive sizes; got {self.nodes}.")


@pai_dataclass(alt="CNN")
@dataclass
class CNNParams(TutorialGraphParams):
    filters: List[int] = field(
        default_factory=lambda: [16, 32],
        metadata=pai_meta(
            help="Filters of each 3x3 conv layer; each is followed by 2x2 max pooling. Defaults to [16, 32]."
        ),
    )
    dense: List[int] = field(
        default_factory=lambda: [64],
        metadata=pai_meta(help="Units of the dense layers after the convs. Defaults to [64]."),
    )


@pai_dataclass
@dataclass
class TutorialModelParams(ModelBaseParams):
    graph: TutorialGraphParams = field(
        default_factory=MLPParams,
        metadata=pai_meta(choices=[MLPParams, CNNParams], help="The network: MLP or CNN. Defaults to MLP."),
    )
    num_classes: int = field(default=10, metadata=pai_meta(help="Number of classes. Defaults to 10."))

    def validate(self) -> None:
        super().validate()
        if self.num_classes < 2:
            raise ConfigError(f"--model.num_classes must be >= 2; got {self.num_classes}. Fix: e.g. 10 for digits.")


@pai_dataclass
@dataclass
class TutorialScenarioParams(ScenarioBaseParams):
    data: TutorialDataParams = field(
        default_factory=TutorialDataParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The data.")
    )
    model: TutorialModelParams = field(
        default_factory=TutorialModelParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The model.")
    )
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The evaluator.")
    )
