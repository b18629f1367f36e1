"""Statistics for ``lab ci`` (regression detection) and ``lab history`` (change points)."""
