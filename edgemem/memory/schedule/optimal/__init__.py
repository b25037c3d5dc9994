"""The ``optimal`` strategy: the minimum-peak order, proved where it can be, with a certified gap where not.

``strategy.schedule`` is the entry point; the rest of this package are its parts:
  model       the memory model the searches work on (nodes, precedence, buffers as bit masks)
  split       cut nodes: segments of every order that can be ordered on their own
  coarsen     chains merged into units without losing optimality
  search      best-first dynamic programming over executed sets (exact), and a beam search
  cut_bound   lower bounds on what must be live when each node runs
  improve     one segment: beam, exact search, then the fallbacks
  windows     exact re-ordering of windows of a large segment, and relaxed windows for its bound
  cpsat       the CP-SAT model of the same problem (OR-Tools, optional)
"""

from edgemem.memory.schedule.optimal.strategy import schedule

__all__ = ["schedule"]
