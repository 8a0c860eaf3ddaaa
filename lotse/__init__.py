"""The launcher that runs the whole system on one machine (embedded default or the real stack)."""
