"""Fault injection on a byte stream: the ``--link-errors RATE --seed S`` of ``spikeforge run --sim``."""

from __future__ import annotations

import random


__all__ = ["FaultyPort"]


class FaultyPort:
    """A byte stream (``read``, ``write``, ``timeout``, ``close``) whose bytes are damaged in both directions:
    each byte, with probability ``rate``, has one bit flipped, is dropped, or has a random byte inserted before
    it (each a third of the time).

    Attributes
    ----------
    faults : int
        Bytes damaged so far, both directions.
    """

    def __init__(self, port, *, rate, seed):
        if not 0 <= rate < 1:
            raise ValueError(f"--link-errors {rate}: the rate must be in 0..1 (a probability per byte)")
        self._port = port
        self._rate = rate
        self._rng = random.Random(seed)
        self.name = port.name
        self.faults = 0

    def _damage(self, data):
        out = bytearray()
        for byte in data:
            if self._rng.random() >= self._rate:
                out.append(byte)
                continue
            self.faults += 1
            kind = self._rng.randrange(3)
            if kind == 0:
                out.append(byte ^ (1 << self._rng.randrange(8)))
            elif kind == 2:
                out += bytes([self._rng.randrange(256), byte])
        return bytes(out)

    @property
    def timeout(self):
        return self._port.timeout

    @timeout.setter
    def timeout(self, seconds):
        self._port.timeout = seconds

    def write(self, data):
        self._port.write(self._damage(data))
        return len(data)

    def read(self, size=1):
        return self._damage(self._port.read(size))

    def close(self):
        self._port.close()
