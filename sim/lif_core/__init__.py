"""The LIF core golden model, cocotb bench and RTL driver."""
