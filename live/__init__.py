"""Live and paper trading through an OpenAlgo server (or the simulator)."""
