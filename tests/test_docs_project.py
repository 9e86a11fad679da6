"""Project hygiene: the license file and setup.cfg agree, the version is one number everywhere."""

from __future__ import annotations

import configparser

import tfaip_core
from tests.conftest import REPO, cli


def test_license_is_apache_2_in_file_and_metadata() -> None:
    assert "Apache License\n                           Version 2.0, January 2004" in (REPO / "LICENSE").read_text()
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert config["metadata"]["license"] == "Apache-2.0"


def test_version_is_printed_by_every_program_and_named_in_the_changelog() -> None:
    for program in ("tfaip-train", "tfaip-resume-training", "tfaip-predict"):
        result = cli(program, "--version")
        assert (result.returncode, result.stdout) == (0, f"tfaip_core {tfaip_core.__version__}\n")
    assert f"## {tfaip_core.__version__}" in (REPO / "CHANGELOG.md").read_text()
