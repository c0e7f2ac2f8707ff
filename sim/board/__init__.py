"""The simulated board: a board top-level's RTL in Icarus or Verilator behind a byte stream like a serial port's.

- :mod:`.pump` (inside the simulator): the cocotb test that moves bytes between a TCP socket and the design,
  through the UART's serial lines bit by bit or through the bridge's byte streams a byte per cycle;
- :mod:`.port` (in the host's process): :class:`~.port.SimulatedPort`, which builds and starts that simulation
  and reads and writes like :class:`serial.Serial`;
- :mod:`.faults`: :class:`~.faults.FaultyPort`, which flips, drops and inserts bytes in both directions.
"""
