"""Errors that end a command with a one-line message (exit 2), shared by the CLI and the runtime."""

from __future__ import annotations


class UsageError(Exception):
    """A one-line message for the user; exit 2."""
