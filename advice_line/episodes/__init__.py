"""Advice episodes: what happened in one consultation, derived from its event timeline.

``facts`` is pure (events in, facts out); storage and views sit beside it.
"""
