"""The AER router and mesh: golden model, traffic generators, cocotb bench and simulation back ends."""
