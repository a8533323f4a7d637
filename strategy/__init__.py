"""The pure core of baseline_v1: no threads, no I/O, no clock of its own.

Time always comes in as an argument. Everything here is tested with plain
pytest; actors wrap these classes.
"""
