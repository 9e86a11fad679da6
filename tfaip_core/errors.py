"""The framework's error hierarchy.

Library code raises these with a message of the form
"`field` must be ...; got .... Fix: ...". The scripts catch `TfaipError` and print
the message as one line (exit status 2 for `ConfigError`).
"""


class TfaipError(Exception):
    """Base of all errors the framework raises on purpose."""


class ConfigError(TfaipError):
    """Bad parameters or command-line usage (exit status 2)."""


class DataError(TfaipError):
    """Missing, corrupt or unprocessable data."""


class CheckpointError(TfaipError):
    """A checkpoint or model directory that cannot be read or written."""


class TrainingError(TfaipError):
    """Training cannot go on (e.g. a non-finite loss)."""
