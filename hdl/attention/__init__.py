"""The spike-driven self-attention unit: parameters (pure Python), generator and board top-level."""
