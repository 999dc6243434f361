"""Routing new calls while PostgreSQL cannot be reached, and handing them back afterwards.

While the database is away, a consultation asked for is routed by the same pure core
(``escalation``) with its state kept in Redis (``store``), what routing needs to know read
from a snapshot each node keeps of the database (``directory``), and every step written to
this node's spool file, flushed to disk, *before* anyone is told of it (``spool``). Once the
database answers again, every such consultation is written into it with its whole timeline
and timers, and carries on there as any other (``handback``). docs/operations.md tells what
works during an outage and what does not.
"""
