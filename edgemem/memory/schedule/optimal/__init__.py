"""The ``optimal`` strategy: the minimum-peak order, proved where it can be, with a certified gap where not.

``strategy.schedule`` is the entry point; the rest of this package are its parts:
  work           the budget: work units (the same answer on any machine), the clock as a guard
  view           one order of the whole graph, and the models of its windows (never of the whole)
  split          cut nodes: segments of every order that can be ordered on their own (linear)
  model          the memory model the searches work on (nodes, precedence, buffers as bit masks)
  coarsen        chains merged into units without losing optimality
  decision       the exact search: is there an order under a cap? asked until the answer is no
  reverse        the model run backwards (same peaks): the exact search is often far cheaper there
  certify        questions below the best peak: a certified gap where the proof runs out of budget
  search         the unit search's state (profiles, forced moves), a best-first search and a beam
  cut_bound      the must-live bound of single nodes
  downset_bound  the time-slice bound: the frontier every order crosses after k steps (CP-SAT)
  improve        one segment: beam, exact search, then the bounds and fallbacks
  windows        exact re-ordering of windows of a large segment, and relaxed windows for its bound
  cpsat          the CP-SAT model of the same problem (OR-Tools, optional)
"""

from edgemem.memory.schedule.optimal.strategy import schedule

__all__ = ["schedule"]
