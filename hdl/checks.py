"""Validation of generator parameters, shared by every block's parameter class.

Each check returns the value or raises TypeError/ValueError whose message names the parameter as
``Parameter 'name'``, the value and the rule (the configuration loader finds the key by that wording).
"""

__all__ = ["check_bool", "check_choice", "check_fraction", "check_int"]


def check_int(name, value, lo, hi, rule=None):
    """An integer (not a bool) in ``lo..hi``; ``rule`` replaces the range in the message."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Parameter '{name}' must be an integer, not {value!r}")
    if not lo <= value <= hi:
        rule = rule or f"must be in the range {lo}..{hi}"
        raise ValueError(f"Parameter '{name}' {rule}; {value} is out of range")
    return value


def check_choice(name, value, choices):
    """One of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"Parameter '{name}' must be one of {allowed}, not {value!r}")
    return value


def check_bool(name, value):
    """True or False."""
    if not isinstance(value, bool):
        raise TypeError(f"Parameter '{name}' must be true or false, not {value!r}")
    return value


def check_fraction(name, value):
    """A number (not a bool) in 0..1."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"Parameter '{name}' must be a number, not {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"Parameter '{name}' must be in the range 0..1; {value} is out of range")
    return value
