"""Retention: how long each kind of record is kept (``policy``, pure) and the command that
deletes what is past its period (``run``, at the database edge). See docs/retention.md."""
