"""The host runtime: talking to a board (or a simulated one) over its UART link, protocol version 2
(docs/host_protocol.md). Pure Python: pyserial for a port, no Amaranth.

- :mod:`.frames`: the framing (flags, stuffing, CRC-16);
- :mod:`.link`: :class:`~.link.Link`, numbered frames with acknowledgements and retransmission over a byte stream;
- :mod:`.board`: :class:`~.board.Board`, what a LIF core or a chip on a board does: INFO, loading, timesteps;
- :mod:`.run`: a LIF core's timesteps and a chip's samples on a board, as ``simulate`` runs them;
- :mod:`.command`: the commands ``spikeforge run`` and ``spikeforge probe``.
"""
