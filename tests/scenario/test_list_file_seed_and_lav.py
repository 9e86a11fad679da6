"""Through the CLI (in-process): `--trainer.random_seed` seeds the list mix; list modules import without TF."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import pytest

from tests.scenario.listfile_scenario.data import write_sample
from tfaip_core.data.list_reading import ListEntry, ListFileGenerator
from tfaip_core.data.sample import PipelineMode, Sample

SCENARIO = "tests.scenario.listfile_scenario"


def two_lists(tmp_path: Path) -> Tuple[Path, Path, Path]:
    """Two training lists of 12 toy files each and a validation list of 4."""
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    names = [f"s{i}.txt" for i in range(28)]
    for i, name in enumerate(names):
        write_sample(str(data / name), i % 2, rng.normal(size=4))
    lists = []
    for list_name, chunk in (("a.lst", names[:12]), ("b.lst", names[12:24]), ("val.lst", names[24:])):
        (tmp_path / list_name).write_text("".join(f"data/{n}\n" for n in chunk), encoding="utf-8")
        lists.append(tmp_path / list_name)
    return lists[0], lists[1], lists[2]


def train_main(argv: List[str]) -> int:
    from tfaip_core.scripts.train import main

    return main(argv)


def mixed_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, seed: Optional[int], lists: Tuple[Path, Path, Path]
) -> List[str]:
    """The first 16 training samples (paths) the mix draws in a 1-epoch run with `--trainer.random_seed seed`."""
    drawn: List[str] = []
    load_entry = ListFileGenerator.load_entry

    def recording(self: ListFileGenerator, entry: ListEntry) -> Sample:
        if self.mode == PipelineMode.TRAINING:
            drawn.append(entry.path)
        return load_entry(self, entry)

    monkeypatch.setattr(ListFileGenerator, "load_entry", recording)
    a, b, val = lists
    seed_flags = [] if seed is None else ["--trainer.random_seed", str(seed)]
    status = train_main(
        [
            SCENARIO,
            "--train.lists",
            str(a),
            str(b),
            "--train.list_ratios",
            "1",
            "1",
            "--train.batch_size",
            "4",
            "--train.shuffle_buffer_size",
            "0",
            "--trainer.samples_per_epoch",
            "16",
            "--val.lists",
            str(val),
            "--trainer.epochs",
            "1",
            "--trainer.progress_bar",
            "false",
            "--trainer.export_final",
            "false",
            "--trainer.export_best",
            "false",
            "--trainer.output_dir",
            str(tmp_path / name),
            *seed_flags,
        ]
    )
    assert status == 0
    assert len(drawn) >= 16
    return drawn[:16]


@pytest.mark.timeout(300)
def test_random_seed_seeds_the_list_mix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lists = two_lists(tmp_path)
    first = mixed_order(tmp_path, monkeypatch, "run1", 5, lists)
    assert mixed_order(tmp_path, monkeypatch, "run2", 5, lists) == first
    assert mixed_order(tmp_path, monkeypatch, "run3", 6, lists) != first
    from_a = [p for p in first if Path(p).name in {f"s{i}.txt" for i in range(12)}]
    assert 0 < len(from_a) < 16  # really a mix of both lists


def test_list_params_and_list_reading_import_without_tensorflow() -> None:
    # a fresh process is the point: this one has TensorFlow loaded already
    import subprocess
    import sys

    from tests.conftest import REPO

    code = (
        "import sys\n"
        "import tfaip_core.data.list_file_params, tfaip_core.data.list_reading, tfaip_core.scenario.list_file_params\n"
        "assert 'tensorflow' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
