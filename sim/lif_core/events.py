"""Input events grouped by timestep: what every run of a stimulus over timesteps starts from. Pure Python."""

from __future__ import annotations


__all__ = ["events_by_step"]


def events_by_step(events, steps):
    """Group ``(t, item)`` events (axons of input events, values of reward commands...) by timestep.

    Returns a list of ``steps`` lists: the items of step t, in the order given. Events outside ``0 <= t < steps``
    are left out."""
    by_step = [[] for _ in range(steps)]
    for t, item in events:
        if 0 <= t < steps:
            by_step[t].append(item)
    return by_step
