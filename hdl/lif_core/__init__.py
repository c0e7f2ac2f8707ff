"""The LIF neuron core: parameters (pure Python) and generator."""
