"""Amaranth generators of spiking neural network hardware."""
