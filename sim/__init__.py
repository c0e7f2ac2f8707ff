"""Golden models, cocotb testbenches and drivers, simulation back ends."""
