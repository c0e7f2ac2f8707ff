"""The AER router and the mesh network-on-chip: parameters and packet formats (pure Python) and generators."""
