"""Replay of recorded sessions through the live actor graph with a simulated broker."""
