"""Comparison of what a golden model expects with what the RTL did, reporting the first difference plainly.

Two kinds of comparison:

- item channels (spikes, responses, packets): :meth:`Scoreboard.expect` and :meth:`Scoreboard.observe`
  queue items, :meth:`Scoreboard.check` compares everything queued on a channel in order, and
  :meth:`Scoreboard.finish` makes sure nothing expected is missing and nothing observed is left over;
- values (state read back after a step): :meth:`Scoreboard.compare` and :meth:`Scoreboard.compare_all`.

Every failure raises :class:`Mismatch` with one sentence, e.g. "step 3: neuron 17 spiked in the model but not
in the RTL" or "after tick 5: neuron 2 v = -31 in the RTL, -30 in the model".
"""

from __future__ import annotations

import collections


__all__ = ["Mismatch", "Scoreboard"]


class Mismatch(AssertionError):
    """The RTL and the model disagree; the message says where and how."""


class Scoreboard:
    """Compares expected (model) and actual (RTL) items and values.

    Parameters
    ----------
    expected_by, actual_by : str
        How the two sides are named in messages.

    Attributes
    ----------
    items_checked, values_checked : int
        How many items and values compared equal so far.
    """

    def __init__(self, *, expected_by="the model", actual_by="the RTL"):
        self._expected_by = expected_by
        self._actual_by = actual_by
        self._describe = {}
        self._expected = collections.defaultdict(list)
        self._actual = collections.defaultdict(list)
        self.items_checked = 0
        self.values_checked = 0

    def channel(self, name, describe=str):
        """Declare item channel ``name``; ``describe(item)`` says in words what an item is, e.g.
        ``"neuron 17 spiked"``. Messages append "in the model but not in the RTL" and the like."""
        self._describe[name] = describe

    def _channel(self, name):
        if name not in self._describe:
            raise KeyError(f"Scoreboard channel '{name}' was not declared; declared channels are "
                           f"{', '.join(self._describe) or 'none'}")
        return self._describe[name]

    def expect(self, channel, items):
        """Queue items the model produced on ``channel``."""
        self._channel(channel)
        self._expected[channel].extend(items)

    def observe(self, channel, items):
        """Queue items the RTL produced on ``channel``."""
        self._channel(channel)
        self._actual[channel].extend(items)

    def check(self, channel, context):
        """Compare, in order, every item queued on ``channel`` since the last check; both queues must match
        exactly. ``context`` opens the message ("step 3").

        Raises
        ------
        Mismatch
            At the first item that is missing on one side, extra on one side, or out of order.
        """
        describe = self._channel(channel)
        expected, actual = self._expected[channel], self._actual[channel]
        difference = self._first_difference(describe, expected, actual)
        if difference is not None:
            raise Mismatch(f"{context}: {difference}")
        self.items_checked += len(expected)
        expected.clear()
        actual.clear()

    def _first_difference(self, describe, expected, actual):
        exp, act = self._expected_by, self._actual_by
        for index, (want, got) in enumerate(zip(expected, actual)):
            if want == got:
                continue
            if want not in actual[index:]:
                return f"{describe(want)} in {exp} but not in {act}"
            if got not in expected[index:]:
                return f"{describe(got)} in {act} but not in {exp}"
            return f"out of order: {act} gave '{describe(got)}' where {exp} gave '{describe(want)}'"
        if len(expected) > len(actual):
            return f"{describe(expected[len(actual)])} in {exp} but not in {act}"
        if len(actual) > len(expected):
            return f"{describe(actual[len(expected)])} in {act} but not in {exp}"
        return None

    def compare(self, context, what, expected, actual):
        """Compare one value; ``what`` names it ("neuron 2 v").

        Raises
        ------
        Mismatch
            "<context>: <what> = <actual> in the RTL, <expected> in the model".
        """
        if actual != expected:
            raise Mismatch(f"{context}: {what} = {actual} in {self._actual_by}, {expected} in {self._expected_by}")
        self.values_checked += 1

    def compare_all(self, context, what, expected, actual):
        """Compare two sequences of values element by element; ``what(index)`` names element ``index``
        ("neuron 2 v"). The first difference in index order is reported."""
        expected, actual = list(expected), list(actual)
        if len(expected) != len(actual):
            raise Mismatch(f"{context}: {len(actual)} values in {self._actual_by}, {len(expected)} in "
                           f"{self._expected_by}")
        for index, (want, got) in enumerate(zip(expected, actual)):
            self.compare(context, what(index), int(want), int(got))

    def finish(self, context="at the end of the run"):
        """Make sure every item queued on every channel was checked: nothing expected is missing and nothing
        observed is left over.

        Raises
        ------
        Mismatch
            Naming the first missing or left-over item.
        """
        for channel in self._describe:
            self.check(channel, context)
