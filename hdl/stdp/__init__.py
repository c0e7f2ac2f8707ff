"""The STDP learning engine: parameters (pure Python) and generator."""
