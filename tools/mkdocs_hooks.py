"""MkDocs hooks (mkdocs.yml `hooks:`): regenerate docs/reference/ from the code before every build."""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import docs_reference  # noqa: E402


def on_pre_build(config: Any, **kwargs: Any) -> None:
    """Write the generated reference pages that changed (before MkDocs collects the files)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    docs_reference.write()
