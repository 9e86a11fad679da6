"""ATR: printed text-line recognition with a small CNN + bidirectional LSTM trained with CTC.

Data: list files of line images (`*.bin.png`, `*.png` ...) with their transcripts beside them (`x.gt.txt`
for `x.bin.png`). Images are scaled to `--data.line_height` (48) and batched by width
(`--train.bucket_boundaries`); the codec (the characters the model reads) is built from the training
transcripts and stored in the run's params (`--data.codec`), so every export carries it. The exported
`serving_default` takes `img` (uint8 [batch, width, 48], ink bright) and `img_len` and returns the greedy
CTC decoding (`labels`, `labels_len`); post-processing turns labels into `outputs["text"]`. The evaluator
reports `cer` (character error rate) and `line_acc`; the best model is the lowest `val_cer`.

On UW3 (50 training lines, 20 test lines; ls writes absolute paths into the lists):

    ls $PWD/uw3_50lines/train/*.bin.png > train.lst && ls $PWD/uw3_50lines/test/*.bin.png > test.lst
    tfaip-train scenarios.atr --train.lists train.lst --val.lists test.lst --trainer.output_dir runs/atr \
        --trainer.epochs 150 --trainer.random_seed 1
    tfaip-predict --export_dir runs/atr/best --data.images uw3_50lines/test/010001.bin.png
    tfaip-lav --export_dir runs/atr/best --lav.lists test.lst

Measured with these defaults (filters 16 32, BiLSTM 64, batch 5, Adam 1e-3, 150 epochs of 10 steps), on 2 CPU
cores shared with four other jobs (so the time is an upper bound): 15 min 40 s wall time (9 min 43 s CPU).
Validation CER by epoch: 1: 100%, 10: 100% (CTC first emits only blanks), 20: 84.2%, 30: 76.6%, 40: 63.5%,
50: 52.9%, 60: 43.8%, 70: 42.5%, 80: 35.9%, 90: 35.8%, 100: 35.8%, 110: 32.4%, 120: 33.7%, 130: 30.8%,
140: 31.4%, 150: 31.4%; best 29.3% (epoch 148), kept in runs/atr/best. Line accuracy stays 0: 50 lines are few.
The test lines hold characters that never occur in the 50 training lines ('X', '&', '3', 'J'), which the
model cannot read; with more lines CER falls much further. Without data at hand,
`python -m scenarios.atr.synthetic DIR` renders a few lines with Pillow and writes `DIR/lines.lst`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from scenarios.atr.data import AtrData, build_codec, check_transcripts
from scenarios.atr.evaluator import AtrEvaluator
from scenarios.atr.model import AtrModel
from scenarios.atr.params import AtrScenarioParams
from tfaip_core import ListFileScenario, TrainerParams
from tfaip_core.data.list_reading import read_lists
from tfaip_core.util.logging import logger

if TYPE_CHECKING:
    from tfaip_core.trainer.trainer import Trainer

log = logger("scenario")


class AtrScenario(ListFileScenario[AtrScenarioParams]):
    params_cls = AtrScenarioParams
    data_cls = AtrData
    model_cls = AtrModel
    evaluator_cls = AtrEvaluator

    @classmethod
    def default_trainer_params(cls) -> TrainerParams:
        params = super().default_trainer_params()
        params.epochs = 150
        params.train.batch_size = 5
        params.train.bucket_boundaries = [500, 900, 1300]
        params.val.batch_size = 10
        params.optimizer.clip_global_norm = 5.0
        params.num_print_evaluate = 1
        return params

    def create_model(self) -> AtrModel:
        return AtrModel(self.params.model, num_classes=AtrData(self.params.data).codec.num_classes)

    def create_trainer(self, trainer_params: TrainerParams) -> Trainer:
        """Check that every training and validation line has a transcript; build the codec if `--data.codec` is empty.

        The codec goes into the run's params (`trainer_params.json`, and the params of every export), so
        resuming, LAV and prediction read the same codec.
        """
        data = self.params.data
        for flag, lists in (("--train.lists", trainer_params.train.lists), ("--val.lists", trainer_params.val.lists)):
            check_transcripts(_paths(lists, flag), data.gt_extension, flag)
        if not data.codec:
            codec = build_codec(_paths(trainer_params.train.lists, "--train.lists"), data.gt_extension)
            data.codec = codec.chars
            log.info("Codec of %d characters from the training transcripts: %r", len(codec.chars), codec.chars)
        return super().create_trainer(trainer_params)


def _paths(list_files: List[str], flag: str) -> List[str]:
    """The image paths the list files name (all of them checked to exist)."""
    return [entry.path for entries in read_lists(list_files, flag) for entry in entries]
