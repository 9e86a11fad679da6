"""`TrainerParams`: everything one training run needs, and the root of the command line (`--trainer.*`).

The nested groups are "flat", so they keep the short spellings of the user's documentation:
`--optimizer`, `--learning_rate`, `--device`, `--train`, `--val`, and the scenario's `--data`, `--model`,
`--evaluator`.
"""

import copy
import math
from dataclasses import dataclass, field
from typing import List, Optional

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.params import DataPipelineParams
from tfaip_core.device.params import DeviceParams
from tfaip_core.errors import ConfigError
from tfaip_core.export.params import ExportParams
from tfaip_core.lav.params import LavParams
from tfaip_core.scenario.params import ScenarioBaseParams
from tfaip_core.trainer.early_stopping_params import EarlyStoppingParams
from tfaip_core.trainer.optimizer_params import OPTIMIZERS, AdamParams, OptimizerParams
from tfaip_core.trainer.schedule_params import SCHEDULES, ConstantParams, LearningRateParams
from tfaip_core.trainer.warmstart_params import WarmstartParams
from tfaip_core.util.frequency import Frequency

MAX_SEED = 2**32  # numpy and TensorFlow seeds are unsigned 32-bit integers
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # Keras dtype policies
DRY_RUN_SUFFIX = "-dryrun"  # --trainer.dry_run writes OUTPUT_DIR-dryrun beside the real run
DRY_RUN_SAMPLES = 64  # training and validation samples of a dry run


@pai_dataclass
@dataclass
class TrainerParams:
    """Parameters of a training run. Defaults live here and nowhere else."""

    epochs: int = field(default=10, metadata=pai_meta(help="Number of epochs to train. Defaults to 10."))
    samples_per_epoch: int = field(
        default=-1,
        metadata=pai_meta(help="Samples that make one epoch (-1: one pass over the training data). Defaults to -1."),
    )
    output_dir: Optional[str] = field(
        default=None,
        metadata=pai_meta(help="Directory for logs, checkpoints and exported models (required). Defaults to None."),
    )
    random_seed: Optional[int] = field(
        default=None,
        metadata=pai_meta(
            help="Seed for Python, numpy, TensorFlow and data shuffling (None: random). Defaults to None."
        ),
    )
    val_every_n: int = field(
        default=1,
        metadata=pai_meta(
            help="Validate every N epochs (and always after the last; 0: never, and best/ is the last model). "
            "Defaults to 1."
        ),
    )
    lav_every_n: int = field(
        default=0,
        metadata=pai_meta(
            help="Load and validate (LAV) every N epochs (and always after the first and the last): the prediction "
            "graph as exported (EMA weights if on) over each --lav.lists list, or the validation data, with "
            "post-processing and the evaluator; values lav_l0_* ... (0: off). Defaults to 0."
        ),
    )
    export_best: bool = field(
        default=True,
        metadata=pai_meta(help="Keep a SavedModel of the best epoch in OUTPUT_DIR/best. Defaults to True."),
    )
    export_final: bool = field(
        default=True,
        metadata=pai_meta(help="Write a SavedModel after the last epoch to OUTPUT_DIR/export. Defaults to True."),
    )
    progress_bar: bool = field(
        default=True, metadata=pai_meta(help="Show a progress bar during each epoch. Defaults to True.")
    )
    force_eager: bool = field(
        default=False,
        metadata=pai_meta(
            help="Run train and eval steps eagerly (slow; for breakpoints in the model). Defaults to False."
        ),
    )
    precision: str = field(
        default="float32",
        metadata=pai_meta(
            help="Numeric precision: float32, mixed_float16 (GPUs; with loss scaling) or mixed_bfloat16 (CPUs, TPUs, "
            "recent GPUs): layers compute in 16 bits, variables stay float32. Defaults to float32.",
            choices=list(PRECISIONS),
        ),
    )
    profile: bool = field(
        default=False,
        metadata=pai_meta(
            help="Record a TensorBoard profile of the global steps --trainer.profile_steps into OUTPUT_DIR/train "
            "(needs the profile extra: pip install 'tfaip_core[profile]'). Defaults to False."
        ),
    )
    profile_steps: List[int] = field(
        default_factory=lambda: [2, 6],
        metadata=pai_meta(
            help="FIRST LAST: profile from global step FIRST to LAST (at the compiled calls' boundaries, see "
            "--trainer.steps_per_execution). Defaults to [2, 6]."
        ),
    )
    steps_per_execution: int = field(
        default=0,
        metadata=pai_meta(
            help="Training steps run inside one compiled call (0: automatic: 16 at first, then as many as take "
            "about 0.2 s, measured on the first calls; at most the steps of an epoch; 16 while profiling and on "
            "several workers). Defaults to 0."
        ),
    )
    jit_compile: bool = field(
        default=False,
        metadata=pai_meta(
            help="Compile the train and eval steps with XLA (as Keras' jit_compile). Faster for some models, "
            "slower to start; every new padded input shape compiles again. Not with --trainer.force_eager. "
            "Defaults to False."
        ),
    )
    max_steps: int = field(
        default=-1,
        metadata=pai_meta(
            help="Stop after this many optimizer steps in total, as an alternative to epochs (-1: off). Defaults to -1."
        ),
    )
    calc_ema: float = field(
        default=0.0,
        metadata=pai_meta(
            help="Keep an exponential moving average of the weights with this decay, e.g. 0.99 (0: off; -1: "
            "1 - 1/steps per epoch). The averaged weights are validated and exported. Defaults to 0."
        ),
    )
    no_train_scope: Optional[str] = field(
        default=None,
        metadata=pai_meta(
            help="Regex over layer/variable paths (e.g. '.*conv.*'); matched layers and their children are frozen. "
            "Defaults to None."
        ),
    )
    train_accum_steps: int = field(
        default=1,
        metadata=pai_meta(
            help="Average the gradients of N batches and update once every N batches (1: off). Defaults to 1."
        ),
    )
    checkpoint_every_n_steps: int = field(
        default=-1,
        metadata=pai_meta(
            help="Write a checkpoint every N optimizer steps instead of every epoch (-1: off). Defaults to -1."
        ),
    )
    checkpoint_every_secs: float = field(
        default=-1.0,
        metadata=pai_meta(help="Write a checkpoint every S seconds instead of every epoch (-1: off). Defaults to -1."),
    )
    keep_checkpoint_max: int = field(default=5, metadata=pai_meta(help="Keep the newest K checkpoints. Defaults to 5."))
    overwrite: bool = field(
        default=False,
        metadata=pai_meta(
            help="Train into an output_dir that already holds a run, deleting that run's checkpoints, models and logs. "
            "Defaults to False."
        ),
    )
    preload_data: bool = field(
        default=True,
        metadata=pai_meta(
            help="Load all samples into memory once before training (for data that fits). Defaults to True."
        ),
    )
    num_print_evaluate: int = field(
        default=2,
        metadata=pai_meta(help="Validation samples the model prints after each validation. Defaults to 2."),
    )
    dry_run: bool = field(
        default=False,
        metadata=pai_meta(
            help="A quick end-to-end check before a long run: train one epoch on a few samples "
            "(--train.limit/--val.limit 64) into OUTPUT_DIR-dryrun (replaced each time) and write every export "
            "(best, final, trainable, TFLite, archive). Defaults to False."
        ),
    )
    current_epoch: int = field(
        default=0,
        metadata=pai_meta(help="Epochs already trained; written by the framework for resuming. Defaults to 0."),
    )
    optimizer: OptimizerParams = field(
        default_factory=AdamParams,
        metadata=pai_meta(mode="flat", choices=OPTIMIZERS, help="The optimizer: --optimizer NAME."),
    )
    learning_rate: LearningRateParams = field(
        default_factory=ConstantParams,
        metadata=pai_meta(mode="flat", choices=SCHEDULES, help="The learning-rate schedule: --learning_rate NAME."),
    )
    early_stopping: EarlyStoppingParams = field(
        default_factory=EarlyStoppingParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="Early stopping on the model's monitored value."),
    )
    warmstart: WarmstartParams = field(
        default_factory=WarmstartParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="Initialise the weights from an earlier model."),
    )
    device: DeviceParams = field(
        default_factory=DeviceParams, metadata=pai_meta(mode="flat", fix_dc=True, help="Devices and distribution.")
    )
    train: DataPipelineParams = field(
        default_factory=DataPipelineParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="The training data pipeline."),
    )
    val: DataPipelineParams = field(
        default_factory=DataPipelineParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="The validation data pipeline."),
    )
    export: ExportParams = field(
        default_factory=ExportParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="What the final export holds: --export.*."),
    )
    scenario: ScenarioBaseParams = field(
        default_factory=ScenarioBaseParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="The scenario's parameters."),
    )
    lav: LavParams = field(
        default_factory=LavParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="Load and validate (LAV): --lav.lists, --lav.batch_size ..."),
    )

    def validate(self) -> None:
        """Raise `ConfigError` naming the first field that cannot work (flags, params files and resumes alike)."""
        if not self.output_dir:
            raise ConfigError(
                "--trainer.output_dir is required. Fix: add --trainer.output_dir DIR (a new or empty directory)."
            )
        _at_least("epochs", self.epochs, 1)
        _at_least_or_off("samples_per_epoch", self.samples_per_epoch, "one pass over the data")
        if self.random_seed is not None and not 0 <= self.random_seed < MAX_SEED:
            raise ConfigError(
                f"--trainer.random_seed must be in [0, 2**32 - 1] (numpy and TensorFlow seeds are 32-bit); got "
                f"{self.random_seed}. Fix: pass a smaller non-negative seed, e.g. --trainer.random_seed 42."
            )
        _at_least("val_every_n", self.val_every_n, 0)
        _at_least("lav_every_n", self.lav_every_n, 0)
        _at_least("steps_per_execution", self.steps_per_execution, 0)
        if self.jit_compile and self.force_eager:
            raise ConfigError(
                "--trainer.jit_compile and --trainer.force_eager exclude each other: eager steps are not compiled. "
                "Fix: drop one of them (force_eager is for debugging the model step by step)."
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"--trainer.precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}. "
                "Fix: choose one of them."
            )
        if len(self.profile_steps) != 2 or not 0 <= self.profile_steps[0] < self.profile_steps[1]:
            raise ConfigError(
                f"--trainer.profile_steps must be two global steps FIRST LAST with 0 <= FIRST < LAST; got "
                f"{self.profile_steps}. Fix: e.g. --trainer.profile_steps 2 6."
            )
        _at_least_or_off("max_steps", self.max_steps, "off")
        if not (self.calc_ema == -1 or 0 <= self.calc_ema < 1):
            raise ConfigError(
                f"--trainer.calc_ema must be in [0, 1) or -1; got {self.calc_ema}. Fix: e.g. --trainer.calc_ema 0.99."
            )
        _at_least("train_accum_steps", self.train_accum_steps, 1)
        _at_least_or_off("checkpoint_every_n_steps", self.checkpoint_every_n_steps, "every epoch")
        if not (
            self.checkpoint_every_secs == -1
            or (math.isfinite(self.checkpoint_every_secs) and self.checkpoint_every_secs > 0)
        ):
            raise ConfigError(
                f"--trainer.checkpoint_every_secs must be -1 (every epoch) or a number of seconds > 0; got "
                f"{self.checkpoint_every_secs}. Fix: e.g. --trainer.checkpoint_every_secs 600."
            )
        _at_least("keep_checkpoint_max", self.keep_checkpoint_max, 1)
        _at_least("num_print_evaluate", self.num_print_evaluate, 0)
        _at_least("current_epoch", self.current_epoch, 0)
        self.checkpoint_frequency()
        self.train.validate("--train")
        self.val.validate("--val")
        self.device.validate()
        self.optimizer.validate()
        self.early_stopping.validate()
        self.warmstart.validate()
        self.export.validate()
        self.learning_rate.validate()
        self.scenario.data.validate()
        self.scenario.model.validate()
        self.scenario.evaluator.validate()
        self.lav.validate()

    def for_dry_run(self) -> "TrainerParams":
        """The params a `--trainer.dry_run` trains with: a copy, one epoch on a few samples, every export on.

        The copy has `dry_run` False (it is an ordinary small run: resuming or re-running its params never
        shrinks it again), writes to `OUTPUT_DIR-dryrun` and replaces an earlier dry run there. A TFLite
        mode chosen with --export.tflite is kept; otherwise float32 is written.
        """
        p = copy.deepcopy(self)
        p.dry_run = False
        p.output_dir = (self.output_dir or "").rstrip("/\\") + DRY_RUN_SUFFIX
        p.overwrite = True
        p.epochs, p.current_epoch, p.samples_per_epoch, p.max_steps = 1, 0, -1, -1
        p.train.limit = DRY_RUN_SAMPLES if p.train.limit == -1 else min(p.train.limit, DRY_RUN_SAMPLES)
        p.val.limit = DRY_RUN_SAMPLES if p.val.limit == -1 else min(p.val.limit, DRY_RUN_SAMPLES)
        p.export_best = p.export_final = True
        p.export.trainable = p.export.archive = True
        p.export.tflite = "float32" if self.export.tflite == "none" else self.export.tflite
        return p

    def checkpoint_frequency(self) -> Frequency:
        """When to write checkpoints: every epoch, or every N steps, or every S seconds (only one)."""
        return Frequency(
            every_n_steps=self.checkpoint_every_n_steps if self.checkpoint_every_n_steps > 0 else None,
            every_secs=self.checkpoint_every_secs if self.checkpoint_every_secs > 0 else None,
            names={
                "every_n_steps": "--trainer.checkpoint_every_n_steps",
                "every_secs": "--trainer.checkpoint_every_secs",
            },
        )


def _at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(
            f"--trainer.{name} must be >= {minimum}; got {value}. Fix: pass --trainer.{name} {minimum} or more."
        )


def _at_least_or_off(name: str, value: int, meaning: str) -> None:
    """-1 switches the setting off (`meaning`); otherwise a count >= 1."""
    if value == 0 or value < -1:
        raise ConfigError(
            f"--trainer.{name} must be -1 ({meaning}) or >= 1; got {value}. Fix: pass -1 or a positive count."
        )
