"""What every command-line program shares: flag parsing into params, and one-line errors.

paiargparse raises raw exceptions (or prints argparse usage) on bad input; `parse_params`
turns each into a `ConfigError` whose message names the culprit and the fix, and
`run_cli` prints it as one line with exit status 2.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import traceback
from types import FrameType
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, TypeVar

import paiargparse.dataclass_parser as _pai_parser
from paiargparse import PAIArgumentParser
from paiargparse.dataclass_parser import (
    InvalidChoiceError,
    PAIDataClassArgumentParser,
    RequiredArgumentError,
    UnknownArgumentError,
)

from tfaip_core.errors import ConfigError, TfaipError
from tfaip_core.util.flags import flag_values

T = TypeVar("T")
EXIT_USAGE = 2


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def _strict_bool(value: str) -> bool:
    """paiargparse reads any unknown word as False; a typo in a switch must be an error instead."""
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"invalid boolean: '{value}'")


_pai_parser.str_to_bool = _strict_bool  # used by paiargparse's field actions


class _DataClassParser(PAIDataClassArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit
        raise ConfigError(message)


class FlagParser(PAIArgumentParser):
    """A `PAIArgumentParser` that raises `ConfigError` instead of printing usage or tracebacks."""

    def _data_class_argument_parser_cls(self) -> type:
        return _DataClassParser

    def error(self, message: str) -> Any:
        raise ConfigError(message)

    defaults: Dict[str, Any] = {}

    def format_help(self) -> str:
        # paiargparse shows the dataclass field defaults; show the scenario's actual defaults instead
        for action in self._data_class_parser._actions:
            if action.help:  # the formatter appends "(default: ...)" with the real value
                action.help = re.sub(r"\s*Defaults to .*$", "", action.help, flags=re.S)
            for option in action.option_strings:
                if option in self.defaults:
                    action.default = self.defaults[option]
        return super().format_help()


def parse_params(prog: str, argv: Sequence[str], default: T, root: str = "trainer", description: str = "") -> T:
    """Parse `argv` into a copy of the params dataclass `default` (flags override its values).

    Raises:
        ConfigError: unknown flag, bad value, unknown choice ... with the culprit named.
    """
    argv = list(argv)
    parser = FlagParser(prog=prog, description=description, add_show=False)
    parser.add_root_argument(root, type(default), default=default)
    parser.defaults = flag_values(default, root)
    try:
        namespace = parser.parse_args(argv)
    except ConfigError as e:
        raise ConfigError(_argparse_message(str(e))) from None
    except UnknownArgumentError as e:
        from tfaip_core.scripts.flag_help import unselected_choice_message

        for flag in (a.split("=", 1)[0] for a in argv if a.startswith("--")):
            if message := unselected_choice_message(default, root, flag, argv):
                raise ConfigError(message) from None
        raise ConfigError(_unknown_flag_message(str(e))) from None
    except (RequiredArgumentError, InvalidChoiceError) as e:
        raise ConfigError(str(e).splitlines()[0]) from None
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ConfigError(_value_error_message(e, argv)) from None
    return getattr(namespace, root)


def _argparse_message(message: str) -> str:
    return message.replace("argument ", "", 1).strip()


def _unknown_flag_message(message: str) -> str:
    """'Unknown Arguments --x 1. Possible alternatives:\\n\\t--x ==> --a, --b' -> one line."""
    parts = []
    for line in message.splitlines()[1:]:
        flag, _, alternatives = line.strip().partition(" ==> ")
        if flag.startswith("--"):
            parts.append(f"unknown flag {flag} (closest valid flags: {alternatives})")
    if not parts:
        first = message.splitlines()[0]
        return first.replace("Unknown Arguments", "unexpected arguments:").rstrip(".") + ". Fix: see --help."
    return "; ".join(parts) + ". Fix: check the spelling, or see --help for all flags."


def _value_error_message(error: Exception, argv: List[str]) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    choice = re.match(r"Invalid module and class name (\S+)\. Must be .* or in \[(.*)\]", text)
    if choice:
        value = choice.group(1)
        names = [n.strip(" '\"") for n in choice.group(2).split(",")]
        valid = [n for n in names if not n.endswith("Params")] or names
        choice_flag = _flag_before(argv, value) or "a choice flag"
        return f"{choice_flag}: unknown choice {value!r}; valid choices: {', '.join(valid)}."
    quoted = re.search(r"'([^']*)'\s*$", text) or re.search(r": (\S+)$", text)
    if quoted:
        value = quoted.group(1)
        flag = _flag_before(argv, value)
        if flag:
            kind = (
                "a number"
                if "float" in text
                else "an integer"
                if "int()" in text
                else "true or false"
                if "boolean" in text
                else "a valid value"
            )
            return f"{flag}: invalid value {value!r}; expected {kind}. Fix: correct the value of {flag}."
    return f"invalid flags ({type(error).__name__}: {text}). Fix: see --help."


def _flag_before(argv: List[str], value: str) -> Optional[str]:
    """The flag whose value list contains `value` (`--a.b value` or `--a.b=value`)."""
    flag = None
    for token in argv:
        if token.startswith("--"):
            name, eq, inline = token.partition("=")
            flag = name
            if eq and inline == value:
                return name
        elif token == value and flag:
            return flag
    return None


def usage_exit(args: Sequence[str], usage: str) -> Optional[int]:
    """For `-h`/`--help` print `usage` (exit status 0), for no arguments too (status 2), for `--version` the
    version (status 0); else None: go on."""
    if args and args[0] == "--version":
        from tfaip_core.version import __version__

        print(f"tfaip_core {__version__}")
        return 0
    if not args or args[0] in ("-h", "--help"):
        print(usage)
        return 0 if args else EXIT_USAGE
    return None


def check_scenario_first(args: Sequence[str], prog: str) -> None:
    """The first argument names the scenario; a flag there is a usage error."""
    if args[0].startswith("-"):
        raise ConfigError(
            f"the first argument must be the SCENARIO; got the flag {args[0]}. Fix: {prog} SCENARIO [flags]."
        )


PRINT_PARAMS = "--print_params"
HELP_FLAGS = ("-h", "--help")


def pop_help(args: Sequence[str]) -> tuple[List[str], bool]:
    """Remove `-h`/`--help` from `args`: the flags before and after it still select choices for the help text."""
    rest = [a for a in args if a not in HELP_FLAGS]
    return rest, len(rest) != len(args)


def pop_print_params(args: Sequence[str]) -> tuple[List[str], bool]:
    """Remove the program flag `--print_params` (not a params field) from `args`."""
    rest = [a for a in args if a != PRINT_PARAMS]
    return rest, len(rest) != len(args)


def print_params(params: Any, scenario_cls: Any) -> None:
    """Print the fully resolved params as JSON (feed it back with tfaip-train-from-params)."""
    import json

    params.scenario.scenario_class = scenario_cls.class_path()
    print(json.dumps(params.to_dict(), indent=2))


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt so the same clean-up runs."""


EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM stops like Ctrl-C (`Terminated`), and both go through `request_stop`.

    Inside the training loop a stop takes effect at its next safe point (see `tfaip_core.util.stop`);
    elsewhere at once. Only in the main thread (Python runs signal handlers there); elsewhere a no-op.
    The previous handlers are restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from tfaip_core.util.stop import request_stop, reset

    reset()

    def on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
        request_stop(Terminated())

    def on_sigint(signum: int, frame: Optional[FrameType]) -> None:
        request_stop(KeyboardInterrupt())

    previous_term = signal.signal(signal.SIGTERM, on_sigterm)
    previous_int = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def run_cli(prog: str, main: Callable[[], Optional[int]]) -> int:
    """Run `main`, turning framework errors into one line on stderr (exit 2 for usage errors).

    Ctrl-C and SIGTERM stop cleanly (what the run opened is closed, what a failed start wrote is
    removed) with `PROG: interrupted` (exit 130) or `PROG: terminated` (exit 143), followed by how
    to go on when the program said so (an exception note, e.g. how to resume).
    """
    try:
        with sigterm_as_interrupt():
            return main() or 0
    except ConfigError as e:
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except TfaipError as e:
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Terminated)
        notes = "; ".join(getattr(e, "__notes__", []))
        print(
            f"{prog}: {'terminated' if terminated else 'interrupted'}{f' ({notes})' if notes else ''}", file=sys.stderr
        )
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception:
        traceback.print_exc()
        return 1


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
