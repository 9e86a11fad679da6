"""List-file scenarios: reading lists, missing files, mixing ratios, `--lav.lists`, and CLI runs (in-process)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import List, Sequence

import numpy as np
import pytest

from tests.conftest import cli
from tests.scenario.listfile_scenario.data import write_sample
from tests.scenario.listfile_scenario.scenario import ToyListFileScenario
from tfaip_core.data.data_pipeline import DataPipeline
from tfaip_core.data.sample import PipelineMode
from tfaip_core.errors import ConfigError, DataError
from tfaip_core.scenario.list_file import (
    ListFileGenerator,
    ListsPipelineParams,
    lav_list_pipelines,
    lav_lists,
    read_list_file,
    read_lists,
)
from tfaip_core.scripts.cli import parse_params
from tfaip_core.util.flags import flag_values

SCENARIO = "tests.scenario.listfile_scenario"


def write_files(directory: Path, names: Sequence[str]) -> List[Path]:
    """Toy sample files (label = index parity) named `names` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(names))
    paths = []
    for i, name in enumerate(names):
        label = i % 2
        write_sample(str(directory / name), label, rng.normal(2 * label - 1, 0.5, 4))
        paths.append(directory / name)
    return paths


def write_list(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def toy_lists(tmp_path: Path, n_train: int = 24, n_val: int = 8) -> tuple[Path, Path]:
    """A train and a val list (paths relative to the lists' directory) over toy sample files."""
    write_files(tmp_path / "data", [f"s{i}.txt" for i in range(n_train + n_val)])
    train = write_list(tmp_path / "train.lst", [f"data/s{i}.txt" for i in range(n_train)])
    val = write_list(tmp_path / "val.lst", [f"data/s{i}.txt" for i in range(n_train, n_train + n_val)])
    return train, val


def pipeline(*lists: Path, ratios: Sequence[float] = ()) -> ListsPipelineParams:
    return ListsPipelineParams(lists=[str(p) for p in lists], list_ratios=list(ratios))


# ------------------------------------------------------------------ reading lists
def test_list_file_comments_blank_lines_and_relative_paths(tmp_path: Path) -> None:
    a, b = write_files(tmp_path / "lists" / "data", ["a.txt", "b.txt"])
    (other,) = write_files(tmp_path / "elsewhere", ["c.txt"])
    list_file = tmp_path / "lists" / "my.lst"
    list_file.write_text(
        f"# a comment\n\n   data/a.txt  \n\t# indented comment\n./data/../data/b.txt\r\n{other}\n\n",
        encoding="utf-8",
    )
    entries = read_list_file(str(list_file))
    assert [e.path for e in entries] == [str(a), str(b), str(other)]  # relative to the list file's directory
    assert [e.line for e in entries] == [3, 5, 6]
    assert {e.list_file for e in entries} == {str(list_file)}


def test_generator_yields_list_order_with_meta(tmp_path: Path) -> None:
    files = write_files(tmp_path / "d", ["x0.txt", "x1.txt", "x2.txt"])
    l1 = write_list(tmp_path / "one.lst", ["d/x2.txt", "d/x0.txt"])
    l2 = write_list(tmp_path / "two.lst", ["# header", "d/x1.txt"])
    for mode in (PipelineMode.EVALUATION, PipelineMode.TRAINING):  # training without ratios: concatenation
        generator = ListFileGenerator(mode, pipeline(l1, l2))
        samples = list(generator.generate())
        assert generator.size() == 3
        assert [s.inputs for s in samples] == [str(files[2]), str(files[0]), str(files[1])]  # path for processors
        assert [s.meta for s in samples] == [
            {"id": str(files[2]), "list": str(l1), "line": 1},
            {"id": str(files[0]), "list": str(l1), "line": 2},
            {"id": str(files[1]), "list": str(l2), "line": 2},
        ]


def test_missing_list_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"--val.lists: list file '.*nope.lst' does not exist"):
        read_lists([str(tmp_path / "nope.lst")], "--val.lists")


def test_missing_listed_files_are_named_with_list_and_line(tmp_path: Path) -> None:
    write_files(tmp_path / "d", ["ok.txt"])
    names = ["d/ok.txt"] + [f"d/missing{i}.txt" for i in range(8)]
    list_file = write_list(tmp_path / "t.lst", ["# comment", *names])
    with pytest.raises(DataError) as info:
        ListFileGenerator(PipelineMode.TRAINING, pipeline(list_file), flag="--train.lists")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("--train.lists: 8 of 9 listed files do not exist")
    assert f"{list_file} line 3: {tmp_path / 'd' / 'missing0.txt'}" in message
    assert "line 7" in message and "line 8" not in message  # the first five, then a count
    assert "and 3 more" in message


def test_lists_and_ratios_are_validated(tmp_path: Path) -> None:
    (f,) = write_files(tmp_path / "d", ["a.txt"])
    a = write_list(tmp_path / "a.lst", ["d/a.txt"])
    b = write_list(tmp_path / "b.lst", ["d/a.txt"])
    with pytest.raises(ConfigError, match=r"--train.lists is required"):
        ListsPipelineParams().validate("--train")
    with pytest.raises(ConfigError, match=r"--train.list_ratios must give one ratio per list file; got 1 ratios for 2"):
        pipeline(a, b, ratios=[1]).validate("--train")
    for bad in ([1, 0], [1, -2], [1, float("nan")]):
        with pytest.raises(ConfigError, match=r"--train.list_ratios must all be > 0"):
            pipeline(a, b, ratios=bad).validate("--train")
    pipeline(a, b, ratios=[0.5, 2]).validate("--train")
    with pytest.raises(ConfigError, match="one ratio per list"):  # the generator checks too (no trainer validate)
        ListFileGenerator(PipelineMode.TRAINING, pipeline(a, b, ratios=[1, 2, 3]))
    empty = write_list(tmp_path / "empty.lst", ["# nothing"])
    with pytest.raises(DataError, match="cannot mix list files that name no files"):
        ListFileGenerator(PipelineMode.TRAINING, pipeline(a, empty, ratios=[1, 1]))
    with pytest.raises(DataError, match="name no files"):
        ListFileGenerator(PipelineMode.EVALUATION, pipeline(empty))


# ------------------------------------------------------------------ mixing
@pytest.fixture(scope="module")
def small_and_large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("mix")
    write_files(root / "d", [f"f{i}.txt" for i in range(1000)])
    small = write_list(root / "small.lst", [f"d/f{i}.txt" for i in range(10)])
    large = write_list(root / "large.lst", [f"d/f{i}.txt" for i in range(1000)])
    return small, large


@pytest.mark.parametrize("ratios, expected_small", [([1, 1], 0.5), ([3, 1], 0.75)])
def test_mixing_draws_each_list_with_its_ratio(
    small_and_large: tuple[Path, Path], ratios: List[float], expected_small: float
) -> None:
    small, large = small_and_large
    generator = ListFileGenerator(PipelineMode.TRAINING, pipeline(small, large, ratios=ratios), seed=3)
    assert generator.size() is None  # endless: --trainer.samples_per_epoch defines an epoch
    draws = list(itertools.islice(generator.iter_entries(), 4000))
    from_small = [e for e in draws if e.list_file == str(small)]
    assert abs(len(from_small) / len(draws) - expected_small) <= 0.03
    # the small list is cycled: every pass of 10 is a permutation of all its entries
    first_passes = [e.line for e in from_small[:100]]
    for start in range(0, 100, 10):
        assert sorted(first_passes[start : start + 10]) == list(range(1, 11))
    assert len({e.line for e in draws if e.list_file == str(large)}) > 500


def test_mixing_is_seeded(small_and_large: tuple[Path, Path]) -> None:
    small, large = small_and_large

    def first(seed: int) -> List[str]:
        generator = ListFileGenerator(PipelineMode.TRAINING, pipeline(small, large, ratios=[1, 2]), seed=seed)
        return [s.id or "" for s in itertools.islice(generator.generate(), 50)]

    assert first(1) == first(1) != first(2)
    validation = ListFileGenerator(PipelineMode.EVALUATION, pipeline(small, large, ratios=[1, 2]))
    assert validation.size() == 1010  # ratios only mix training data


def test_mixed_training_data_streams_instead_of_preloading(tmp_path: Path) -> None:
    train, val = toy_lists(tmp_path)
    params = ToyListFileScenario.default_trainer_params()
    data = ToyListFileScenario(params.scenario).create_data()
    mix = pipeline(train, val, ratios=[1, 1])
    mix.batch_size = 5
    with DataPipeline(data, PipelineMode.TRAINING, mix, repeat=True, seed=1, preload=True) as training:
        inputs, targets = next(iter(training.dataset()))
        assert training.num_samples is None
    assert inputs["x"].shape == (5, 4) and targets["label"].shape == (5,)
    with DataPipeline(data, PipelineMode.EVALUATION, pipeline(val), preload=True) as validation:
        validation.dataset()
        assert validation.num_samples == 8


# ------------------------------------------------------------------ flags
def test_flags_parse_and_lav_defaults_to_validation_lists() -> None:
    default = ToyListFileScenario.default_trainer_params()
    assert {"--train.lists", "--train.list_ratios", "--val.lists", "--lav.lists"} <= set(
        flag_values(default, "trainer")
    )
    params = parse_params(
        "test",
        ["--train.lists", "a.lst", "b.lst", "--train.list_ratios", "1", "3", "--val.lists", "v.lst"],
        ToyListFileScenario.default_trainer_params(),
    )
    assert isinstance(params.train, ListsPipelineParams) and isinstance(params.val, ListsPipelineParams)
    assert params.train.lists == ["a.lst", "b.lst"] and params.train.list_ratios == [1.0, 3.0]
    assert lav_lists(params) == ["v.lst"]
    params = parse_params(
        "test",
        ["--val.lists", "v.lst", "--val.batch_size", "7", "--lav.lists", "l1.lst", "l2.lst"],
        ToyListFileScenario.default_trainer_params(),
    )
    assert params.lav.lists == ["l1.lst", "l2.lst"]
    assert lav_lists(params) == ["l1.lst", "l2.lst"]
    lav = lav_list_pipelines(params)  # one LAV pipeline per list, with the validation pipeline's settings
    assert [p.lists for p in lav] == [["l1.lst"], ["l2.lst"]] and all(p.batch_size == 7 for p in lav)
    assert params.val.lists == ["v.lst"]  # the validation pipeline is unchanged


def test_params_round_trip_through_json() -> None:
    from tfaip_core.trainer.params import TrainerParams

    params = parse_params(
        "test",
        ["--train.lists", "a.lst", "--val.lists", "v.lst", "--lav.lists", "l.lst"],
        ToyListFileScenario.default_trainer_params(),
    )
    again = TrainerParams.from_dict(json.loads(json.dumps(params.to_dict())))
    assert isinstance(again.train, ListsPipelineParams) and again.train.lists == ["a.lst"]
    assert lav_lists(again) == ["l.lst"]


# ------------------------------------------------------------------ command line
def error_lines(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if line.startswith("tfaip-train: error:")]


def test_cli_training_run_end_to_end(tmp_path: Path) -> None:
    train, val = toy_lists(tmp_path)
    out = tmp_path / "run"
    result = cli(
        "tfaip-train",
        SCENARIO,
        "--train.lists",
        str(train),
        "--val.lists",
        str(val),
        "--trainer.epochs",
        "1",
        "--trainer.output_dir",
        str(out),
        "--trainer.progress_bar",
        "false",
    )
    assert result.returncode == 0, result.stderr
    assert "--train.lists: 24 files in 1 list(s)" in result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert len(records) == 1 and "val_loss" in records[0]
    stored = json.loads((out / "trainer_params.json").read_text())
    assert stored["train"]["lists"] == [str(train)]


def test_cli_missing_list_file_is_one_line(tmp_path: Path) -> None:
    _, val = toy_lists(tmp_path, n_train=2, n_val=2)
    result = cli(
        "tfaip-train",
        SCENARIO,
        "--train.lists",
        str(tmp_path / "missing.lst"),
        "--val.lists",
        str(val),
        "--trainer.output_dir",
        str(tmp_path / "run"),
    )
    assert result.returncode == 1, result.stderr  # a DataError
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert "--train.lists: list file" in line and "missing.lst" in line


def test_cli_missing_listed_file_names_list_and_line(tmp_path: Path) -> None:
    train, _ = toy_lists(tmp_path, n_train=2, n_val=2)
    val = write_list(tmp_path / "val.lst", ["# validation", "data/s2.txt", "data/gone.txt"])
    result = cli(
        "tfaip-train",
        SCENARIO,
        "--train.lists",
        str(train),
        "--val.lists",
        str(val),
        "--trainer.output_dir",
        str(tmp_path / "run"),
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert f"{val} line 3: {tmp_path / 'data' / 'gone.txt'}" in line
    assert line.startswith("tfaip-train: error: --val.lists: 1 of 2 listed files do not exist")
