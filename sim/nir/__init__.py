"""NIR graphs: reading them into a discrete-time network, and its float reference simulator."""
