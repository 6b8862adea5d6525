"""The composition root: settings, wiring, listeners, signals and graceful shutdown."""
