"""Immutable messages passed between actors, grouped by topic.

Facts are named in the past tense (``BarClosed``), commands in the imperative
(``FlattenAll``). Prices are rupees (float), quantities contracts (int),
times timezone-aware datetimes in IST.
"""
