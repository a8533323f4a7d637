"""The journal: peewee/SQLite tables of every state change, and the JSON Lines event log.

``persistence.models`` holds the tables, ``persistence.journal_store`` the
single writer and the recovery queries, ``persistence.event_log`` the
byte-deterministic event log of a run.
"""
