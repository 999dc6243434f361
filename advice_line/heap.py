"""The garbage collector's settings for a long-running node.

A node holds many long-lived objects (modules, the app, and per connection its socket, its
registry entries and buffers); CPython's full collection walks all of them, and on a loaded
node those pauses (70-160 ms, docs/benchmarks.md "Capacity") stalled every socket at once.
Two settings cut them:

* ``gc.freeze()`` once the node has started moves everything alive then (imports, the app,
  the pools) out of the collector's sight for good: later full collections walk only what
  was made since. Cycles among frozen objects are never collected, which is right for objects
  that live as long as the process.
* a larger first-generation threshold: a request's short-lived objects are mostly gone before
  a young collection, instead of surviving into the older generations (whose growth is what
  triggers a full collection).
"""

from __future__ import annotations

import gc

#: Allocations (minus deallocations) between young collections; CPython's default is 700.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Call once the node has started (before it serves): collect, then freeze what is left."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.collect()
    gc.freeze()
