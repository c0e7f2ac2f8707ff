"""The STDP golden model, cocotb bench and RTL driver."""
