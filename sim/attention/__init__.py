"""The spike-driven self-attention unit: golden model, float reference, cocotb bench and RTL runner."""
