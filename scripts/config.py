"""Configuration files: one TOML table of validated parameters per block, with command-line overrides.

A configuration file describes one block, in a table named after it, plus any tables that extend it::

    [lif_core]
    neurons = 256
    axons = 256
    lanes = 8

    [stdp]              # optional: the LIF core's learning engine
    a_plus = 16

Each table's keys are the keyword parameters of the block's parameter class (for ``[lif_core]``,
:class:`spikeforge.hdl.lif_core.params.LifParams`), whose ``create`` validates them. The tables are those of the
block descriptions (:mod:`spikeforge.scripts.blocks`): a block's own table, and the tables that extend it;
nothing here depends on a particular block.

``--set key=value`` overrides one value. ``key`` is ``table.name`` or, when only one table takes it, ``name``.
``value`` is read as a TOML value (``4``, ``true``, ``"per_neuron"``); a value that is not TOML is taken as a bare
string, so ``--set model=cuba`` works.

Every problem raises :class:`ConfigError` with one line that names the file, the line or ``--set`` the value came
from, and the rule that was broken.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from .blocks import EXTENSIONS, tables
from .errors import ConfigError


__all__ = ["TABLES", "Config", "ConfigError", "load_config", "parse_override"]


#: Table name -> parameter class. A class provides ``keys()`` (the accepted names) and ``create(**kwargs)``
#: (validates, raising TypeError or ValueError whose message names the parameter as ``Parameter 'name'``);
#: an extension's ``create`` takes the validated parameters of the table it extends first
#: (``StdpParams.create(lif_params, **table)``, see ``EXTENSIONS``).
TABLES = tables()
_TABLE_LINE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_NAMED_PARAMETER = re.compile(r"[Pp]arameter '(\w+)'(?: entry (\d+))?")
_MISSING_ARGUMENT = re.compile(r"missing \d+ required (?:keyword-only |positional )?arguments?: '(\w+)'")


@dataclasses.dataclass(frozen=True)
class Config:
    """A loaded configuration.

    Attributes
    ----------
    path : pathlib.Path
        The file it was read from.
    blocks : dict
        Table name -> validated parameter object, for the tables the file (or an override) has.
    """

    path: Path
    blocks: dict
    source: object = dataclasses.field(default=None, compare=False, repr=False)

    def where(self, table, key=None, entry=None):
        """``FILE line N`` (or ``FILE, --set ...``) where ``key`` of ``table`` (or its ``entry``-th table, for
        an array of tables such as ``[[mesh.routes]]``) was given; ``FILE`` when that is not known."""
        return self.source.where(table, key, entry) if self.source is not None else f"{self.path}"

    def block(self, name):
        """The parameters of table ``name``; raises :class:`ConfigError` when the file has no such table."""
        if name not in self.blocks:
            raise ConfigError(f"{self.path}: no [{name}] table; this command needs one")
        return self.blocks[name]

    def top(self):
        """``(table name, parameters)`` of the one block the file describes (not counting extensions).

        Raises
        ------
        ConfigError
            If the file describes no block, or more than one.
        """
        names = [name for name in self.blocks if name not in EXTENSIONS]
        if len(names) != 1:
            found = ", ".join(f"[{name}]" for name in names) or "none"
            choices = ", ".join(f"[{name}]" for name in TABLES if name not in EXTENSIONS)
            raise ConfigError(f"{self.path}: expected exactly one block table of {choices}; found {found}")
        return names[0], self.blocks[names[0]]


def parse_override(text):
    """Split ``--set`` text ``key=value`` into ``(key, value)`` with the value read as TOML or a bare string.

    Raises
    ------
    ConfigError
        If there is no ``=``, the key is empty or the value is empty.
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text}: expected key=value, e.g. --set lanes=4")
    if not raw:
        raise ConfigError(f"--set {text}: missing value after '='")
    if "\n" in raw or "\r" in raw:
        raise ConfigError(f"--set {text!r}: a value is one line")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


class _Source:
    """Where each value of a file came from, for error messages: a line of the file or a ``--set``."""

    def __init__(self, path, text):
        self.path = path
        self.table_lines = {}
        self.key_lines = {}
        self.entry_lines = {}           # "table.key" of an array of tables -> the line of each of its tables
        self.overrides = {}
        table = None
        for number, line in enumerate(text.splitlines(), start=1):
            if match := _TABLE_LINE.match(line):
                table = match.group(2)
                self.table_lines.setdefault(table, number)
                self.table_lines.setdefault(table.split(".")[0], number)
                if match.group(1) == "[[":
                    self.entry_lines.setdefault(table, []).append(number)
            elif match := _KEY_LINE.match(line):
                self.key_lines.setdefault((table, match.group(1)), number)

    def where(self, table, key=None, entry=None):
        """``FILE line N`` or ``FILE, --set key=value`` for a key of ``table`` (None: the top level), or for
        the table itself when ``key`` is None; with ``entry``, for the ``entry``-th table of the array of tables
        ``[[table.key]]`` when the file writes it so."""
        if (table, key) in self.overrides:
            return f"{self.path}, --set {self.overrides[table, key]}"
        entries = self.entry_lines.get(f"{table}.{key}", [])
        line = entries[entry] if entry is not None and entry < len(entries) else None
        line = line or self.key_lines.get((table, key)) or self.table_lines.get(table)
        return f"{self.path} line {line}" if line else f"{self.path}"


def _read(path):
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")     # spreadsheet programs and some editors write a byte-order mark
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if match := _TOML_POSITION.search(message):
            message = _TOML_POSITION.sub("", message)
            raise ConfigError(f"{path} line {match.group(1)}: malformed TOML: {message} "
                              f"(column {match.group(2)})") from None
        raise ConfigError(f"{path}: malformed TOML: {message}") from None
    return text, tables


def _known_tables():
    return ", ".join(f"[{name}]" for name in TABLES)


def _apply_override(tables, source, text):
    key, value = parse_override(text)
    table, dot, name = key.rpartition(".")
    if dot:
        if table not in TABLES:
            raise ConfigError(f"{source.path}, --set {text}: unknown table [{table}]; known tables are "
                              f"{_known_tables()}")
        present = [t for t in tables if t in TABLES and t not in EXTENSIONS]
        if table not in tables and table not in EXTENSIONS and present:
            raise ConfigError(f"{source.path}, --set {text}: the file describes [{present[0]}]; a [{table}] "
                              f"value would add a second block")
    else:
        takers = [t for t in tables if t in TABLES and name in TABLES[t].keys()]
        if not takers:
            others = [t for t in TABLES if name in TABLES[t].keys()]
            if not others:
                raise ConfigError(f"{source.path}, --set {text}: no table takes a parameter '{name}'")
            if len(others) == 1 and tables:
                # Adding a table is a choice to spell out: an unqualified key never adds one (it would, for
                # instance, give a plain core a learning engine).
                raise ConfigError(f"{source.path}, --set {text}: no table of the file takes '{name}'; "
                                  f"[{others[0]}] does: write --set {others[0]}.{name}=... to add that table")
            takers = others
        if len(takers) > 1:
            choices = " or ".join(f"{t}.{name}" for t in takers)
            raise ConfigError(f"{source.path}, --set {text}: '{name}' is ambiguous; write {choices}")
        table = takers[0]
    tables.setdefault(table, {})[name] = value
    source.overrides[table, name] = text


def _create(name, values, source, blocks):
    try:
        if name in EXTENSIONS:
            base = EXTENSIONS[name]
            if base not in blocks:
                raise ConfigError(f"{source.where(name)}: [{name}] extends [{base}], which this file does not have")
            return TABLES[name].create(blocks[base], **values)
        return TABLES[name].create(**values)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        key = entry = None
        if match := _MISSING_ARGUMENT.search(message):
            key = match.group(1)
            message = f"Parameter '{key}' is required"
        elif match := _NAMED_PARAMETER.search(message):
            key, entry = match.group(1), match.group(2) and int(match.group(2))
        raise ConfigError(f"{source.where(name, key, entry)}: [{name}] {message}") from None


def load_config(path, overrides=()):
    """Read and validate a configuration file.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file.
    overrides : iterable of str
        ``key=value`` texts of ``--set`` options, applied in order after the file.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed, has an unknown table or key, or a value breaks a rule.
    """
    text, tables = _read(path)
    source = _Source(path, text)
    for name, table in tables.items():
        if isinstance(table, list) and name in TABLES:
            raise ConfigError(f"{source.where(name)}: [[{name}]] is an array of tables; a block is one table, "
                              f"[{name}]")
        if not isinstance(table, dict):
            raise ConfigError(f"{source.where(None, name)}: '{name}' is outside a table; put it in a table "
                              f"such as [{next(iter(TABLES))}]")
        if name not in TABLES:
            raise ConfigError(f"{source.where(name)}: unknown table [{name}]; known tables are "
                              f"{_known_tables()}")
    for override in overrides:
        _apply_override(tables, source, override)
    blocks = {}
    # Extended tables first: an extension is validated against them.
    for name in sorted(tables, key=lambda name: name in EXTENSIONS):
        blocks[name] = _create(name, tables[name], source, blocks)
    return Config(path=Path(path), blocks=blocks, source=source)
