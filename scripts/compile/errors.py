"""How the compiler fails."""

__all__ = ["CompileError"]


class CompileError(ValueError):
    """The network cannot be compiled with the options given (one line naming the node and the rule)."""
