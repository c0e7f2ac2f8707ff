"""Board platforms, board top-levels and the build flow."""
