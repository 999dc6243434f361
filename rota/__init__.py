"""Duty rotas: tiers, rotations, overrides, who is on duty at an instant, coverage gaps.

Pure logic: no asyncio, no database, no clock of its own (time is a parameter).
"""
