"""The generated reference pages (docs/reference/) match the code, and the generator reads the dataclasses right."""

from __future__ import annotations

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import docs_reference  # noqa: E402

sys.path.remove(str(REPO / "tools"))


def test_committed_reference_pages_are_up_to_date() -> None:
    for name, text in docs_reference.render().items():
        committed = (REPO / "docs" / "reference" / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/reference/{name} is stale. Fix: run `python tools/docs_reference.py`."


def test_flags_page_lists_flat_groups_at_the_root_and_each_choice() -> None:
    page = docs_reference.flags_page()
    assert "| `--trainer.epochs` | int | `10` |" in page
    assert "| `--train.batch_size` | int | `16` |" in page
    assert "| `--optimizer NAME` | one of Adam, " in page and "## `--optimizer AdamW`" in page
    assert "| `--optimizer.beta_1` | float | `0.9` |" in page  # a flat group's fields start at the root
    assert "--scenario." not in page  # the scenario's flags are on the scenario page


def test_cli_page_holds_every_program_of_setup_cfg() -> None:
    page = docs_reference.cli_page()
    names = [name for name, _ in docs_reference.programs()]
    assert "tfaip-train" in names and "tfaip-predict" in names
    for name in names:
        assert f"## {name}\n" in page
    assert "usage: tfaip-train SCENARIO" in page
