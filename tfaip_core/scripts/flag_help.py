"""`--help` of the programs, rendered from the params tree itself, and the error for a flag of an unselected choice.

Why not argparse's help: paiargparse adds a choice's flags only while it parses, so its help shows a choice
flag (`--optimizer`) without its choices, default or help, lists internal fields, and prints two usage lines.
Walking the dataclasses gives every flag with its real default (the scenario's, not the field's) and stays
TensorFlow-free: params modules never import it.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import textwrap
import typing
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

#: Fields the framework fills in itself; a flag for them only confuses (they stay settable, e.g. in a params file).
HIDDEN = frozenset({"--trainer.current_epoch", "--scenario.scenario_class"})
WIDTH = 100


@dataclasses.dataclass
class FlagDoc:
    """One flag as `--help` shows it."""

    flag: str
    metavar: str
    default: str
    help: str
    choices: List[str] = dataclasses.field(default_factory=list)


def choice_name(choice: Any) -> str:
    """The name a choice is selected by on the command line: a class's `alt` name, else its class name; a value."""
    if isinstance(choice, type):
        return getattr(choice, "__alt_name__", None) or choice.__name__
    return str(choice.value if isinstance(choice, enum.Enum) else choice)


def walk(params: Any, prefix: str) -> Iterator[Tuple[str, dataclasses.Field, Any]]:
    """(flag name without `--`, field, value) of every field of the params tree, parents before children.

    A nested group is spelled `prefix.field`, a "flat" group (`pai_meta(mode="flat")`) starts at the root, as
    paiargparse spells them.
    """
    for f in dataclasses.fields(params):
        meta: Dict[str, Any] = dict(f.metadata or {})
        name = f.name if meta.get("mode") == "flat" else f"{prefix}.{f.name}"
        value = getattr(params, f.name)
        yield name, f, value
        if dataclasses.is_dataclass(value):
            yield from walk(value, name)


def flag_docs(params: Any, root: str) -> List[FlagDoc]:
    """Every flag a user can set on `params` (the choices selected in it), internal fields left out."""
    docs = []
    for name, f, value in walk(params, root):
        meta: Dict[str, Any] = dict(f.metadata or {})
        flag = f"--{name}"
        if flag in HIDDEN or (dataclasses.is_dataclass(value) and not meta.get("choices")):
            continue  # a fixed group: only its fields are flags
        text = re.sub(r"\s*Defaults to .*$", "", str(meta.get("help", "")), flags=re.S).strip()
        choices = [choice_name(c) for c in meta.get("choices") or []]
        if dataclasses.is_dataclass(value):
            docs.append(FlagDoc(flag, "NAME", choice_name(type(value)), text, choices))
        elif isinstance(value, list) and meta.get("choices"):
            shown = " ".join(choice_name(type(v)) for v in value) or "(none)"
            docs.append(FlagDoc(flag, "[NAME ...]", shown, text, choices))
        else:
            if isinstance(value, enum.Enum):
                choices = [str(e.value) for e in type(value)]
                value = value.value
            docs.append(FlagDoc(flag, _metavar(f.type), _show(value), text, [str(c) for c in choices]))
    return docs


def render_help(usage: str, params: Any, root: str = "trainer") -> str:
    """The whole `--help` text: `usage` (its first line the one usage line), then the flags by group."""
    lines = [usage.rstrip()]
    group = None
    for doc in flag_docs(params, root):
        head = doc.flag[2:].split(".")[0]
        if head != group:
            group = head
            lines += ["", f"{group}:"]
        lines.append(f"  {doc.flag} {doc.metavar}")
        details = doc.help + (" " if doc.help else "")
        if doc.choices:
            details += f"Choices: {', '.join(doc.choices)}. "
        details += f"Default: {doc.default}."
        lines += textwrap.wrap(details, WIDTH, initial_indent=" " * 6, subsequent_indent=" " * 6)
    note = (
        "A choice flag (NAME) selects a class; the flags of the selected one follow it, e.g. --learning_rate "
        "WarmupCosineDecay --learning_rate.warmup_epochs 1. Put a choice before --help to list its flags."
    )
    return "\n".join(lines + [""] + textwrap.wrap(note, WIDTH)) + "\n"


def unselected_choice_message(params: Any, root: str, flag: str, argv: Sequence[str]) -> Optional[str]:
    """For an unknown `flag` that is a field of a choice not selected: which choice it belongs to and the fix.

    None when `flag` belongs to no choice, or the choice was selected on the command line (`argv`).
    """
    given = {token.split("=", 1)[0] for token in argv if token.startswith("--")}
    for name, f, value in walk(params, root):
        choices = dict(f.metadata or {}).get("choices") or []
        if not (dataclasses.is_dataclass(value) and choices and flag.startswith(f"--{name}.")):
            continue
        field_name = flag[len(name) + 3 :].split(".")[0]
        if f"--{name}" in given or field_name in {g.name for g in dataclasses.fields(value)}:
            return None
        owners = [choice_name(c) for c in choices if field_name in {g.name for g in dataclasses.fields(c)}]
        if not owners:
            return None
        return (
            f"{flag} is a flag of --{name} {' or '.join(owners)}, but --{name} is {choice_name(type(value))}. "
            f"Fix: select that choice before it, e.g. --{name} {owners[0]} {flag} VALUE."
        )
    return None


def _metavar(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, List):
        return f"[{_metavar(args[0]) if args else 'VALUE'} ...]"
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        inner = [a for a in args if a is not type(None)]
        return _metavar(inner[0]) if len(inner) == 1 else "VALUE"
    return {int: "INT", float: "FLOAT", bool: "true|false", str: "TEXT"}.get(annotation, "VALUE")


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, str):
        return value if value else "''"
    return str(value)
