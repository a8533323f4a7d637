"""Session reports: the PNG and HTML of ``run.py report``."""
