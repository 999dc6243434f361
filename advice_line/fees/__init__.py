"""The fee model (honoreringsmodel): fee schedules, fee lines and monthly statements.

Pure: documents, facts and intervals in, frozen schedules, fee lines and statements out. No
clock, no I/O; ``advice_line.fee_store`` reads the inputs from PostgreSQL. Amounts are
``Decimal`` in DKK to the øre, never floats (see docs/fees.md).
"""
