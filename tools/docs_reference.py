"""Generate the reference pages of the documentation from the code, so that they cannot drift from it.

* `docs/reference/flags.md`: every flag of a training run (`TrainerParams` and its groups: `--trainer.*`,
  `--train.*`, `--val.*`, `--optimizer NAME` and each optimizer's fields, `--learning_rate NAME` ...), with type,
  default and help, walked from the params dataclasses;
* `docs/reference/scenarios.md`: the `--data.*`, `--model.*`, `--evaluator.*` flags of the shipped scenarios;
* `docs/reference/cli.md`: the `--help` text of every program in setup.cfg's console_scripts.

Run `python tools/docs_reference.py` after changing a params field or a program's usage; MkDocs runs it too
(`tools/mkdocs_hooks.py`), and `tests/test_docs_reference.py` fails while the committed pages are stale.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import enum
import importlib
import importlib.util
import io
import os
import sys
import types
import typing
from typing import Any, Dict, List, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "docs", "reference")
HEADER = "<!-- Generated from the code by tools/docs_reference.py (run it to update); do not edit. -->"
#: Scenarios whose own flags are listed (module, title); a module that is missing is left out.
SCENARIOS = (
    ("scenarios.tutorial", "Tutorial (`scenarios.tutorial`)"),
    ("scenarios.atr", "Text-line recognition (`scenarios.atr`)"),
    ("scenarios.template", "Template (`scenarios.template`)"),
    ("scenarios.minimal", "Minimal (`scenarios.minimal`)"),
)
Row = Tuple[str, str, str, str]  # flag, type, default, help


# ============================== params dataclasses -> flag tables ==============================
@dataclasses.dataclass
class Section:
    title: str
    intro: str
    rows: List[Row]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return f"{_type_name(args[0])} or None"
    if origin in (list, List):
        return f"list of {_type_name(args[0])}" if args else "list"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _value(value: Any) -> str:
    if dataclasses.is_dataclass(value):
        return getattr(type(value), "__alt_name__", None) or type(value).__name__
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"``{text}``"


def _alt(cls: type) -> str:
    return getattr(cls, "__alt_name__", None) or cls.__name__


def params_sections(params: Any, prefix: str, title: str, intro: str = "", skip: Tuple[str, ...] = ()) -> List[Section]:
    """The flag tables of the params object `params` whose flags start with `prefix` (`trainer`, `optimizer`).

    A "flat" group's flags start at the root (`--optimizer.*` inside `--trainer.*`); a field with several
    implementations (`choices`) is a selector flag plus one table per implementation.
    """
    own = Section(title, intro, [])
    sections = [own]
    for f in dataclasses.fields(params):
        if f.name in skip:
            continue
        meta: Dict[str, Any] = dict(f.metadata or {})
        name = f.name if meta.get("mode") == "flat" else f"{prefix}.{f.name}"
        value = getattr(params, f.name)
        help_text = _cell(meta.get("help") or "")
        choices = [c for c in (meta.get("choices") or []) if isinstance(c, type) and dataclasses.is_dataclass(c)]
        if choices:
            names = ", ".join(_alt(c) for c in choices)
            own.rows.append((f"--{name} NAME", f"one of {names}", _alt(type(value)), help_text))
            for choice in choices:
                instance = value if type(value) is choice else choice()
                sections += params_sections(
                    instance, name, f"`--{name} {_alt(choice)}`", _cell((choice.__doc__ or "").split("\n\n")[0])
                )
        elif dataclasses.is_dataclass(value):
            doc = help_text or _cell((type(value).__doc__ or "").split("\n\n")[0])
            sections += params_sections(value, name, f"`--{name}.*`", doc)
        else:
            own.rows.append((f"--{name}", _type_name(f.type), _value(value), help_text))
    return [s for s in sections if s.rows]


def render_sections(sections: List[Section], level: str = "##") -> str:
    out = []
    for s in sections:
        out.append(f"{level} {s.title}\n")
        if s.intro:
            out.append(s.intro + "\n")
        out.append("| flag | type | default | description |\n|---|---|---|---|")
        for flag, kind, default, help_text in s.rows:
            out.append(f"| {_code(flag)} | {_cell(kind)} | {_code(_cell(default))} | {help_text} |")
        out.append("")
    return "\n".join(out)


def flags_page() -> str:
    from tfaip_core.data.list_file_params import ListsPipelineParams
    from tfaip_core.trainer.params import TrainerParams

    params = TrainerParams()
    sections = params_sections(
        params, "trainer", "`--trainer.*`", "The run: epochs, output directory, seeds, checkpoints, exports.",
        skip=("scenario",),
    )  # fmt: skip
    lists = params_sections(ListsPipelineParams(), "train", "List-file scenarios: `--train.*` / `--val.*`")
    lists[0].rows = [r for r in lists[0].rows if r[0] in ("--train.lists", "--train.list_ratios")]
    lists[0].intro = (
        "A `ListFileScenario` (e.g. `scenarios.atr`) adds these to both pipelines (`--val.lists` likewise); "
        "see [data](../data.md)."
    )
    return "\n".join(
        [
            HEADER,
            "# Training flags\n",
            "Every flag of `tfaip-train SCENARIO` that does not depend on the scenario, with its type and default. "
            "`--train.*` and `--val.*` have the same fields (the validation pipeline's defaults are listed under "
            "`--val.*`). A scenario may change the defaults (`default_trainer_params`); "
            "`tfaip-train SCENARIO --help` shows the values that apply. A selector flag (`--optimizer NAME`) "
            "chooses an implementation whose own flags are listed in the table of that name. The scenarios' "
            "own `--data.*`, `--model.*` and `--evaluator.*` flags are in [scenario flags](scenarios.md).\n",
            render_sections(sections + lists),
        ]
    )


def scenarios_page() -> str:
    from tfaip_core.scenario.locate import locate_scenario

    out = [
        HEADER,
        "# Scenario flags\n",
        "The `--data.*`, `--model.*` and `--evaluator.*` flags of the scenarios shipped in `scenarios/`, with "
        "their defaults (see [scenarios](../scenarios.md)).\n",
    ]
    for module, title in SCENARIOS:
        if importlib.util.find_spec(module) is None:
            continue  # not in this checkout; a scenario that fails to import is an error
        scenario = locate_scenario(module)
        params = scenario.default_params()
        out.append(f"## {title}\n")
        doc = scenario.__doc__ or sys.modules[scenario.__module__].__doc__ or ""
        out.append(f"`{scenario.class_path()}`: {_cell(doc.strip().splitlines()[0] if doc.strip() else '')}\n")
        sections = params_sections(params, "scenario", "", skip=("scenario_class",))
        for s in sections:
            s.title = s.title or "other"
        out.append(render_sections(sections, "###"))
    return "\n".join(out)


# ============================== programs -> usage ==============================
def programs() -> List[Tuple[str, str]]:
    """(program, module) of every console script in setup.cfg, in file order."""
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))
    found = []
    for line in config["options.entry_points"]["console_scripts"].strip().splitlines():
        name, _, target = line.partition("=")
        found.append((name.strip(), target.strip().split(":")[0]))
    return found


def program_help(module: str) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        importlib.import_module(module).main(["--help"])
    return stdout.getvalue().rstrip()


def cli_page() -> str:
    out = [
        HEADER,
        "# Programs\n",
        "The `--help` of every program (`PROG --help`; `PROG --version` prints the version). How flags are spelled, "
        "errors and params files: [command line](../cli.md); every training flag: [training flags](flags.md).\n",
    ]
    for name, module in programs():
        out.append(f"## {name}\n")
        out.append(f"`{module}` (runs as `{name}`, `python -m {module}` or as a file).\n")
        out.append("```text\n" + program_help(module) + "\n```\n")
    return "\n".join(out)


# ============================== writing ==============================
def render() -> Dict[str, str]:
    """File name (in docs/reference/) -> content of every generated page."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    return {"flags.md": flags_page(), "scenarios.md": scenarios_page(), "cli.md": cli_page()}


def write(out_dir: Optional[str] = None) -> List[str]:
    """Write the pages whose content changed; return their paths."""
    out_dir = out_dir or OUT_DIR
    os.makedirs(out_dir, exist_ok=True)
    changed = []
    for name, text in render().items():
        path = os.path.join(out_dir, name)
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            changed.append(path)
    return changed


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for path in write():
        print(f"wrote {os.path.relpath(path, REPO)}")
