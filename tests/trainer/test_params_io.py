"""Params files are validated before use: unknown keys, strict types, and `__cls__` only for registered classes.

In-process on the tutorial scenario; nothing trains. `load_params_file` is what the programs call.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from paiargparse import pai_dataclass

from scenarios.tutorial.params import CNNParams, MLPParams, TutorialGraphParams
from scenarios.tutorial.scenario import TutorialScenario
from tests.data.procs_for_tests import AddValueParams
from tfaip_core.data.processor import DataProcessorParams, MappingDataProcessor
from tfaip_core.data.sample import Sample
from tfaip_core.errors import ConfigError
from tfaip_core.scenario.locate import load_params_file
from tfaip_core.trainer.optimizer_params import SGDParams
from tfaip_core.trainer.params_io import trainer_params_from_dict

SCENARIO = "scenarios.tutorial.scenario:TutorialScenario"


@pai_dataclass
@dataclass
class ForeignGraphParams(TutorialGraphParams):
    """A graph params class loaded in this process but not registered for the tutorial (not its package)."""


@pai_dataclass
@dataclass
class NoProcessorParams(DataProcessorParams):
    """A processor params class that no processor declares."""


@pai_dataclass
@dataclass
class CheckedParams(DataProcessorParams):
    """A registered processor whose params check themselves when built."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scale < 0:
            raise ConfigError(f"scale must be >= 0; got {self.scale}.")


class Checked(MappingDataProcessor[CheckedParams]):
    def apply(self, sample: Sample) -> Sample:
        return sample


def stored() -> Dict[str, Any]:
    """What a run of the tutorial writes as trainer_params.json."""
    params = TutorialScenario.default_trainer_params()
    params.output_dir = "/tmp/run"
    return params.to_dict()  # type: ignore[attr-defined]


def write(tmp_path: Path, data: Any, name: str = "params.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def load_error(tmp_path: Path, data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_params_file(str(write(tmp_path, data)))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_stored_file_round_trips_exactly(tmp_path: Path) -> None:
    params = TutorialScenario.default_trainer_params()
    params.output_dir = "/tmp/run"
    params.random_seed = 7
    params.optimizer = SGDParams(momentum=0.5, clip_norm=1.0)
    params.scenario.model.graph = CNNParams(filters=[4, 8], dense=[])
    params.scenario.data.pre_proc.processors = [AddValueParams(value=3, modes=["training"])]
    params.early_stopping.lower_threshold = 0.5
    data = json.loads(json.dumps(params.to_dict()))  # type: ignore[attr-defined]
    scenario_cls, loaded = load_params_file(str(write(tmp_path, data)))
    assert scenario_cls is TutorialScenario
    assert loaded == params
    assert type(loaded.optimizer) is SGDParams and type(loaded.scenario.model.graph) is CNNParams
    assert type(loaded.scenario.data.pre_proc.processors[0]) is AddValueParams


def test_missing_keys_keep_the_scenarios_defaults(tmp_path: Path) -> None:
    data = {"epochs": 3, "scenario": {"scenario_class": SCENARIO, "model": {"num_classes": 7}}, "train": {"limit": 5}}
    _, loaded = load_params_file(str(write(tmp_path, data)))
    defaults = TutorialScenario.default_trainer_params()
    assert (loaded.epochs, loaded.scenario.model.num_classes, loaded.train.limit) == (3, 7, 5)
    assert loaded.train.batch_size == defaults.train.batch_size == 32  # the tutorial's default, not the dataclass's 16
    assert loaded.scenario.model.graph == MLPParams()


def test_an_int_is_accepted_for_a_float_field_as_a_float(tmp_path: Path) -> None:
    data = stored()
    data["learning_rate"]["lr"] = 1
    _, loaded = load_params_file(str(write(tmp_path, data)))
    assert loaded.learning_rate.lr == 1.0 and type(loaded.learning_rate.lr) is float


def _set(path: str, value: Any) -> Callable[[Dict[str, Any]], None]:
    def change(data: Dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        data[last] = value

    return change


@pytest.mark.parametrize(
    "change, expected",
    [
        (_set("epochz", 3), r'unknown key "epochz" \(did you mean "epochs"\?\)'),
        (_set("train.batch_siz", 3), r'unknown key "train\.batch_siz" \(did you mean "train\.batch_size"\?\)'),
        (_set("scenario.model.graph.nodez", [1]), r'unknown key "scenario\.model\.graph\.nodez" \(did you mean '),
        (_set("zzz", 1), r'unknown key "zzz" \(valid keys: epochs, samples_per_epoch, '),
        (_set("epochs", 2.5), r'"epochs" must be an integer; got 2\.5\. Fix: '),
        (_set("epochs", "ten"), r'"epochs" must be an integer; got "ten"'),
        (_set("epochs", None), r'"epochs" must be an integer; got null'),
        (_set("epochs", True), r'"epochs" must be an integer; got true'),
        (_set("export_best", 1), r'"export_best" must be true or false; got 1'),
        (_set("random_seed", "7"), r'"random_seed" must be null or an integer; got "7"'),
        (_set("learning_rate.lr", True), r'"learning_rate\.lr" must be a number; got true'),
        (_set("output_dir", 5), r'"output_dir" must be null or a string; got 5'),
        (_set("train", "big"), r'"train" must be an object \(the DataPipelineParams group\); got "big"'),
        (_set("train.bucket_boundaries", [8, "16"]), r'"train\.bucket_boundaries\[1\]" must be an integer; got "16"'),
        (_set("train.bucket_boundaries", 8), r'"train\.bucket_boundaries" must be a list of integers; got 8'),
        (_set("scenario.model.graph.nodes", [1.5]), r'"scenario\.model\.graph\.nodes\[0\]" must be an integer'),
        (_set("scenario.data.dataset", "cifar"), r'"scenario\.data\.dataset" must be one of digits, mnist, fash'),
        (_set("scenario.data.pre_proc.processors", [{"value": 1}]), r"processors\[0\]"),
        (_set("scenario.model", []), r'"scenario\.model" must be an object \(the TutorialModelParams group\)'),
        (_set("device.dist_strategy", "all"), r'"device\.dist_strategy" must be one of default, mirror'),
    ],
)
def test_each_bad_entry_is_one_line_naming_its_json_path(
    tmp_path: Path, change: Callable[[Dict[str, Any]], None], expected: str
) -> None:
    data = stored()
    change(data)
    message = load_error(tmp_path, data)
    assert message.startswith(str(tmp_path / "params.json") + ": "), message
    assert re.search(expected, message), message
    assert "Fix: " in message


def test_a_processor_with_a_wrongly_typed_field_names_its_list_position(tmp_path: Path) -> None:
    data = stored()
    data["scenario"]["data"]["pre_proc"]["processors"] = [
        AddValueParams().to_dict(),  # type: ignore[attr-defined]
        {**AddValueParams().to_dict(), "value": "one"},  # type: ignore[attr-defined]
    ]
    message = load_error(tmp_path, data)
    assert '"scenario.data.pre_proc.processors[1].value" must be an integer; got "one"' in message


@pytest.mark.parametrize(
    "data, expected",
    [
        ({}, r'"scenario\.scenario_class" is missing; it names the scenario'),
        ({"epochs": 3}, r'"scenario\.scenario_class" is missing'),
        ([], r"must hold a JSON object of trainer params; got \[\]"),
        ({"scenario": "x"}, r'"scenario" must be an object'),
        ({"scenario": {"scenario_class": 3}}, r'"scenario\.scenario_class" must be module:Class .*; got 3'),
        ({"scenario": {"scenario_class": "runs/x/evil.py"}}, r"not a file path\); got \"runs/x/evil\.py\""),
    ],
)
def test_a_file_without_a_usable_scenario_class_is_refused(tmp_path: Path, data: Any, expected: str) -> None:
    assert re.search(expected, load_error(tmp_path, data))


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text('{"epochs": 3,')
    with pytest.raises(ConfigError, match=r"is not valid JSON .*Fix: "):
        load_params_file(str(path))


def test_the_scenario_params_class_must_be_the_scenarios(tmp_path: Path) -> None:
    data = stored()
    data["scenario"]["__cls__"] = "tfaip_core.scenario.params:ScenarioBaseParams"
    message = load_error(tmp_path, data)
    assert '"scenario.__cls__" names "tfaip_core.scenario.params:ScenarioBaseParams", which is not a loaded ' in message
    assert "TutorialScenarioParams" in message


def _marker_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module on sys.path that writes a marker file when imported (it must never be)."""
    name = f"marker_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "from scenarios.tutorial.params import TutorialGraphParams\n"
        "class Evil(TutorialGraphParams):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, marker


@pytest.mark.parametrize(
    "where",
    ["scenario.model.graph", "optimizer", "scenario.data", "scenario", "", "scenario.data.pre_proc.processors.0"],
)
def test_cls_naming_an_unloaded_module_imports_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    name, marker = _marker_module(tmp_path, monkeypatch)
    data = stored()
    data["scenario"]["data"]["pre_proc"]["processors"] = [AddValueParams().to_dict()]  # type: ignore[attr-defined]
    target: Any = data
    for key in where.split(".") if where else []:
        target = target[int(key)] if key.isdigit() else target[key]
    target["__cls__"] = f"{name}:Evil"
    message = load_error(tmp_path, data)
    cls_path = f"{where}.__cls__".replace(".0.", "[0].") if where else "__cls__"
    assert f'"{cls_path}" names "{name}:Evil", which is not a loaded ' in message
    assert "a params file never imports a module" in message
    assert not marker.exists()
    assert name not in sys.modules


@pytest.mark.parametrize(
    "value",
    ["os:system", "subprocess:Popen", "builtins:eval", "os", "os:path.join", "tfaip_core.errors:ConfigError", ""],
)
def test_cls_naming_a_loaded_non_params_object_is_refused(tmp_path: Path, value: str) -> None:
    data = stored()
    data["scenario"]["model"]["graph"]["__cls__"] = value
    message = load_error(tmp_path, data)
    assert '"scenario.model.graph.__cls__"' in message and json.dumps(value) in message


def test_cls_naming_a_loaded_subclass_outside_the_scenarios_package_is_refused(tmp_path: Path) -> None:
    data = stored()
    data["scenario"]["model"]["graph"] = {"__cls__": f"{__name__}:ForeignGraphParams"}
    message = load_error(tmp_path, data)
    assert f'names "{__name__}:ForeignGraphParams", which is not registered for this field' in message
    assert "(CNNParams, MLPParams, TutorialGraphParams)" in message


def test_cls_may_name_a_choice_a_class_of_the_scenarios_package_or_a_registered_processor(tmp_path: Path) -> None:
    data = stored()
    data["optimizer"] = {"__cls__": "tfaip_core.trainer.optimizer_params:SGDParams", "momentum": 0.9}
    data["scenario"]["model"]["graph"] = {"__cls__": "scenarios.tutorial.params:CNNParams", "filters": [2]}
    data["scenario"]["data"]["pre_proc"]["processors"] = [{"__cls__": "tests.data.procs_for_tests:AddValueParams"}]
    _, loaded = load_params_file(str(write(tmp_path, data)))
    assert loaded.optimizer == SGDParams(momentum=0.9)
    assert loaded.scenario.model.graph == CNNParams(filters=[2])
    assert loaded.scenario.data.pre_proc.processors == [AddValueParams()]


def test_a_processor_params_class_without_a_processor_is_refused(tmp_path: Path) -> None:
    data = stored()
    data["scenario"]["data"]["pre_proc"]["processors"] = [{"__cls__": f"{__name__}:NoProcessorParams"}]
    message = load_error(tmp_path, data)
    assert '"scenario.data.pre_proc.processors[0].__cls__"' in message and "not registered" in message


def test_a_run_directory_may_not_hold_the_scenario_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "run"
    package = f"planted_{uuid.uuid4().hex[:8]}"
    (run_dir / package).mkdir(parents=True)
    marker = tmp_path / "ran.txt"
    (run_dir / package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    data = stored()
    data["scenario"]["scenario_class"] = f"{package}:Scenario"
    monkeypatch.chdir(run_dir)  # the current directory is importable: the planted package would be found
    with pytest.raises(ConfigError, match=r"whose code lies inside the run directory .*Fix: "):
        load_params_file(str(write(run_dir, data, name="trainer_params.json")))
    assert not marker.exists() and package not in sys.modules


def test_errors_raised_by_a_params_class_name_the_json_path(tmp_path: Path) -> None:
    data = stored()
    data["scenario"]["data"]["pre_proc"]["processors"] = [{"__cls__": f"{__name__}:CheckedParams", "scale": -1.0}]
    message = load_error(tmp_path, data)
    assert message == f"{tmp_path / 'params.json'}: scenario.data.pre_proc.processors[0]: scale must be >= 0; got -1.0."


def test_the_decoder_does_not_change_its_input() -> None:
    data = stored()
    before = copy.deepcopy(data)
    trainer_params_from_dict(data, TutorialScenario)
    assert data == before
