"""The package version (one place: setup.cfg, `tfaip_core.__version__` and every program's --version read it)."""

__version__ = "0.1.0"
