"""A lower bound from the time slices every order passes through (CP-SAT, the ``solver`` extra).

After k steps, any order has run a set D of k nodes closed under predecessors (a downset), and
while its next node v runs, the live bytes are those of the buffers D allocated and still needs
(not yet read by all their users, or kept), plus what v allocates. So the peak of every order is
at least, for each k,

    B(k) = min over downsets D of k nodes and nodes v ready after D of live(D) + new(v),

and the best bound is the largest B(k). Where the single-node bounds (``cut_bound``) only see
what must be live while one node runs, B(k) sees the whole frontier of the graph at once: on
RandWire stages, whose random wiring keeps many blocks' outputs waiting for readers in every
order, it is far above them (18 buffers against 12 on a 48-block stage whose best order holds 19).

The model is over the coarsened units (``coarsen``): some optimal order runs every unit back to
back, so it passes through a set of k whole units for every k, and buffers a unit allocates and
frees itself never show. One B(k) is a small CP-SAT model: a boolean per unit (run), one per
buffer (live), one per unit (next), with every ancestor's implication spelled out. Its proved
objective bound is a valid lower bound even when the solver stops early, so each model gets a
fixed slice of deterministic time from the work budget. The largest B(k) is found by sampling
k across the order and refining around the best sample.
"""

from __future__ import annotations

import math
from typing import Sequence

from edgemem.memory.schedule.optimal import cpsat
from edgemem.memory.schedule.optimal.coarsen import Unit
from edgemem.memory.schedule.optimal.model import MemModel, bits
from edgemem.memory.schedule.optimal.work import Work

MAX_UNITS = 400  # larger models: the slices would cost more than they are worth
SAMPLES = (0.5, 0.35, 0.65, 0.2, 0.8)  # where k is tried first, as fractions of the node count
SLICE_UNITS = 60_000  # work units per B(k) (CP-SAT deterministic time)
MIN_SLICE_UNITS = 5_000


def downset_bound(model: MemModel, units: Sequence[Unit], upper: int, work: Work) -> int:
    """The largest proved B(k) found within ``work``; stops early once it reaches ``upper``."""
    n = len(units)
    if n < 2 or n > MAX_UNITS or not cpsat.available():
        return 0
    slices = _Slices(model, units)
    found: dict[int, int] = {}

    def value(k: int) -> int:
        if k not in found:
            slice_units = min(SLICE_UNITS, work.left())
            found[k] = 0 if slice_units < MIN_SLICE_UNITS else slices.bound(k, Work(slice_units, work.clock, work))
        return found[k]

    best = 0
    for fraction in SAMPLES:
        best = max(best, value(min(n - 1, max(1, round(fraction * n)))))
        if best >= upper or work.exhausted():
            return best
    step = max(1, round(0.15 * n) // 2)  # refine: try the neighbours of the best k, closer each time
    while step >= 1 and best < upper and not work.exhausted():
        centre = max(found, key=lambda k: (found[k], -abs(k - n // 2)))
        for k in (centre - step, centre + step):
            if 1 <= k <= n - 1:
                best = max(best, value(k))
        step //= 2
    return best


class _Slices:
    """What every B(k) model shares: units, their ancestors, and the buffers seen between units."""

    def __init__(self, model: MemModel, units: Sequence[Unit]) -> None:
        self.model = model
        self.n = len(units)
        unit_of = {v: i for i, u in enumerate(units) for v in u.nodes}
        preds = [{unit_of[p] for v in u.nodes for p in bits(model.preds[v])} - {i} for i, u in enumerate(units)]
        self.ancestors = [0] * self.n
        for i in sorted(range(self.n), key=lambda i: min(units[i].nodes)):  # a topological order of the units
            for p in preds[i]:
                self.ancestors[i] |= self.ancestors[p] | 1 << p
        self.unit = math.gcd(*(s for s in model.sizes if s)) if any(model.sizes) else 1
        self.buffers = []  # (size in units, allocating units, using units, kept) of the buffers seen between units
        self.first_new = [0] * self.n  # what each unit's first node alone allocates
        for b, size in enumerate(model.sizes):
            if not size:
                continue
            alloc = {unit_of[a] for a in bits(model.alloc[b])}
            users = {unit_of[u] for u in bits(model.users[b])}
            if model.alloc[b] and model.alloc[b] & (model.alloc[b] - 1) == 0:
                creator = model.alloc[b].bit_length() - 1
                if units[unit_of[creator]].nodes[0] == creator:
                    self.first_new[unit_of[creator]] += size // self.unit
            if not model.kept[b] and len(alloc) == 1 and users <= alloc:
                continue  # allocated and freed inside one unit
            self.buffers.append((size // self.unit, sorted(alloc), sorted(users - alloc), model.kept[b]))

    def bound(self, k: int, work: Work) -> int:
        """A proved lower bound on B(k): CP-SAT's objective bound (the optimum when it finishes)."""
        from ortools.sat.python import cp_model

        m = cp_model.CpModel()
        run = [m.NewBoolVar(f"r{i}") for i in range(self.n)]
        nxt = [m.NewBoolVar(f"n{i}") for i in range(self.n)]
        m.Add(sum(run) == k)
        m.AddExactlyOne(nxt)
        terms = [self.first_new[i] * nxt[i] for i in range(self.n) if self.first_new[i]]
        for i in range(self.n):
            m.AddImplication(nxt[i], run[i].Not())
            for a in bits(self.ancestors[i]):
                m.AddImplication(run[i], run[a])
                m.AddImplication(nxt[i], run[a])
        for b, (size, alloc, users, kept) in enumerate(self.buffers):
            live = m.NewBoolVar(f"l{b}")
            terms.append(size * live)
            not_yet = [[run[a].Not()] for a in alloc] or [[]]  # live once an allocating unit ran ...
            for waiting in ([[]] if kept else [[run[u]] for u in users]):  # ... until every user ran
                for clause in not_yet:
                    m.AddBoolOr([live] + waiting + clause)
        m.Minimize(sum(terms))
        solver = cp_model.CpSolver()
        solver.parameters.max_deterministic_time = work.left() / cpsat.UNITS_PER_DETERMINISTIC_SECOND
        solver.parameters.num_workers = cpsat.WORKERS
        solver.parameters.random_seed = cpsat.SEED
        status = solver.Solve(m)
        work.charge(int(solver.response_proto.deterministic_time * cpsat.UNITS_PER_DETERMINISTIC_SECOND) + 1)
        if status == cp_model.OPTIMAL:
            lower = int(round(solver.ObjectiveValue()))
        elif status in (cp_model.FEASIBLE, cp_model.UNKNOWN):
            lower = max(0, int(math.ceil(solver.BestObjectiveBound() - 1e-6)))
        else:
            return 0
        return lower * self.unit + self.model.base_bytes
