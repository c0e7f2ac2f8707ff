"""Architecture design-space sweeps: grid or NSGA-II, local pool or Dask, cached and resumable."""
