"""Exceptions the CLI turns into one-line messages instead of tracebacks."""


class LabError(Exception):
    """An expected failure with a message fit for the user; the CLI exits 1."""

    exit_code = 1


class UsageError(LabError):
    """A bad name or argument on the command line; the CLI exits 2."""

    exit_code = 2


class BuildError(LabError):
    """A native build failed; the message holds the compiler's own diagnostics."""


class StoreError(LabError):
    """The result store cannot be opened or written; nothing in it was overwritten."""
