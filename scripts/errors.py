"""How commands fail: bad input from the user (exit code 2) and a tool that failed (exit code 1)."""

import click


__all__ = ["ConfigError", "InputError", "Interrupted", "ToolError"]


class ConfigError(Exception):
    """A problem with a configuration or sweep-space file or an override, described in one line that names the
    file, the line or ``--set`` and the rule broken."""


class InputError(click.ClickException):
    """Bad input from the user (configuration, input file, option): printed as one line, exit code 2."""
    exit_code = 2


class ToolError(click.ClickException):
    """A simulator or build tool failed: printed as its message, exit code 1."""
    exit_code = 1


class Interrupted(click.ClickException):
    """The command was interrupted (Ctrl-C or SIGTERM): printed as one line, exit code 130."""
    exit_code = 130
