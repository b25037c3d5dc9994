"""Exact minimum-peak order of a MemModel: best-first dynamic programming over executed sets.

The live bytes after a set S of units ran depend only on S, so the best peak of any prefix
that runs exactly S is a function of S (Serenity's signature). States are expanded best-first
on f = max(peak so far, a lower bound on what is still to come, the parent's f): the objective
is a maximum, so f never decreases along a path and the first complete state popped is optimal
(A* on a bottleneck path). Pruning and shortcuts:

* branch and bound: a state whose f reaches the incumbent's peak (the best heuristic order, or
  a better complete order found on the way) is dropped;
* the bound: when a node v runs, its own buffers are live, and so is every buffer allocated
  before it in every order that a descendant of v reads (``cut_bound``), whatever the order;
* forced moves: a ready unit that frees at least what it allocates and stays under the peak
  reached so far is run at once; moving it earlier in any order lowers every step in between,
  so no optimal order is lost, and the states in between are never created;
* memoisation: a state reached again with a peak no lower than before is dropped, and so is a
  child whose executed set (before its forced moves) was reached before with no higher peak:
  the earlier one's forced moves lead at least as far.

Every child state generated costs one work unit (``work.Work``); when the budget runs out, the
smallest f still open is a proved lower bound.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Sequence

from edgemem.memory.schedule.optimal.coarsen import Unit, touches_of
from edgemem.memory.schedule.optimal.cut_bound import static_bound
from edgemem.memory.schedule.optimal.model import MemModel, bits
from edgemem.memory.schedule.optimal.work import Work

CHECK_EVERY = 128  # expansions between two looks at the budget


@dataclass(frozen=True)
class SearchOutcome:
    order: tuple[int, ...] | None  # a complete order below ``upper``; None when none was found
    peak: int  # its peak, or ``upper`` when no better order was found
    lower_bound: int  # proved: no order of the model has a lower peak
    finished: bool  # the search space was exhausted: ``peak`` is optimal
    states: int


class UnitSearch:
    """The search over one model's units; built once, run with a bound and a deadline."""

    def __init__(self, model: MemModel, units: Sequence[Unit], order: Sequence[int] | None = None) -> None:
        self.model = model
        self.units = list(units)
        n = model.n
        touches = touches_of(model)
        self.steps: list[tuple] = []  # per node: (bit, fixed_new, cond_alloc, fixed_free, cond_free)
        depends = [0] * n  # per node: nodes whose execution changes what it allocates or frees
        for v in range(n):
            bit = 1 << v
            fixed_new = fixed_free = 0
            cond_alloc, cond_free = [], []
            for b in touches[v]:
                size = model.sizes[b]
                alloc, users = model.alloc[b], model.users[b]
                if alloc == bit:
                    fixed_new += size
                elif alloc & bit:
                    cond_alloc.append((size, alloc))
                    depends[v] |= alloc & ~bit
                if model.kept[b]:
                    continue
                if users == bit:
                    fixed_free += size
                else:
                    cond_free.append((size, users))
                    depends[v] |= users & ~bit
            self.steps.append((bit, fixed_new, tuple(cond_alloc), fixed_free, tuple(cond_free)))
        initial = [b for b, a in enumerate(model.alloc) if a == 0 and model.sizes[b]]
        # graph inputs no node reads are live at the first step only
        self.unused_initial = sum(model.sizes[b] for b in initial if not model.users[b] and not model.kept[b])
        self.start_mem = model.base_bytes + sum(model.sizes[b] for b in initial) - self.unused_initial
        self.unit_mask = [sum(1 << v for v in u.nodes) for u in self.units]
        self.unit_depends = [0] * len(self.units)
        unit_of = {v: i for i, u in enumerate(self.units) for v in u.nodes}
        self.unit_preds = [0] * len(self.units)  # unit-level masks
        self.unit_succs: list[list[int]] = [[] for _ in self.units]
        for i, u in enumerate(self.units):
            preds = dep = 0
            for v in u.nodes:
                dep |= depends[v]
                for p in bits(model.preds[v]):
                    if unit_of[p] != i:
                        preds |= 1 << unit_of[p]
            self.unit_depends[i] = dep & ~self.unit_mask[i]
            self.unit_preds[i] = preds
            for j in bits(preds):
                self.unit_succs[j].append(i)
        self.profiles: list[dict] = [{} for _ in self.units]
        self.affected = [sum(1 << j for j, dep in enumerate(self.unit_depends) if dep & mask) for mask in self.unit_mask]
        self.forcable = sum(1 << i for i, u in enumerate(self.units) if self._maybe_forced(u))
        must_live = static_bound(model, touches, order if order is not None else range(n))
        kept = model.base_bytes + sum(s for s, k in zip(model.sizes, model.kept) if k)
        self.static_bound = max(must_live, kept if n else 0)

    def _maybe_forced(self, unit: Unit) -> bool:
        """False when the unit allocates more than it can possibly free (never a forced move)."""
        new = freed = 0
        for v in unit.nodes:
            _, fixed_new, _, fixed_free, cond_free = self.steps[v]
            new += fixed_new
            freed += fixed_free + sum(c[0] for c in cond_free)
        return new <= freed

    def profile(self, i: int, done: int) -> tuple[int, int]:
        """(peak, residual) of unit ``i`` relative to the memory before it, after ``done`` ran."""
        key = (done & self.unit_depends[i]) << 1 | (done == 0)
        cached = self.profiles[i].get(key)
        if cached is not None:
            return cached
        peak = mem = 0
        extra = self.unused_initial if done == 0 else 0
        for v in self.units[i].nodes:
            bit, new, cond_alloc, freed, cond_free = self.steps[v]
            for size, alloc in cond_alloc:
                if not alloc & done:
                    new += size
            top = mem + new
            if top + extra > peak:
                peak = top + extra
            extra = 0
            done |= bit
            for size, users in cond_free:
                if not users & ~done:
                    freed += size
            mem = top - freed
        self.profiles[i][key] = (peak, mem)
        return peak, mem

    def close(self, units_done: int, ready: int, done: int, peak: int, mem: int, candidates: int = -1):
        """Run forced moves (units that free what they allocate, under ``peak``) until none is left.

        Running one forced unit only lowers what the others allocate and the memory they start
        from, so a forced unit stays forced: the closure does not depend on the order of moves.
        ``candidates`` limits the first pass to the units whose status may have changed; after a
        move, only the units it readied or shares buffers with, or all when memory dropped.
        """
        forced: list[int] = []
        forcable, profiles, depends, masks, affected = self.forcable, self.profiles, self.unit_depends, self.unit_mask, self.affected
        candidates &= ready & forcable
        while candidates:
            following = 0
            while candidates:
                low = candidates & -candidates
                candidates ^= low
                if not ready & low:
                    continue
                i = low.bit_length() - 1
                cached = profiles[i].get((done & depends[i]) << 1 | (done == 0))
                top, residual = cached if cached is not None else self.profile(i, done)
                if residual <= 0 and mem + top <= peak:
                    done |= masks[i]
                    mem += residual
                    units_done |= low
                    before = ready
                    ready = self._ready_after(ready, i, units_done)
                    forced.append(i)
                    following |= -1 if residual < 0 else (ready & ~before) | affected[i]
            candidates = following & ready & forcable
        return units_done, ready, done, mem, tuple(forced)

    def _ready_after(self, ready: int, i: int, units_done: int) -> int:
        ready &= ~(1 << i)
        for j in self.unit_succs[i]:
            if not self.unit_preds[j] & ~units_done:
                ready |= 1 << j
        return ready

    # -- the search ---------------------------------------------------------------------------
    def run(self, upper: int, work: Work) -> SearchOutcome:
        """Find an order with a peak below ``upper``, the lowest one, or prove there is none."""
        if not self.units:
            return SearchOutcome((), self.model.base_bytes, self.model.base_bytes, True, 0)
        start_peak = self.start_mem + self.unused_initial
        ready0 = sum(1 << i for i in range(len(self.units)) if not self.unit_preds[i])
        units_done, ready, done, mem, forced = self.close(0, ready0, 0, start_peak, self.start_mem)
        best_g = {units_done: start_peak}
        parent: dict[int, tuple[int, tuple[int, ...]]] = {units_done: (-1, forced)}
        if units_done == (1 << len(self.units)) - 1:  # forced moves ran everything: that order is optimal
            if start_peak >= upper:  # and not below ``upper``: no order is
                return SearchOutcome(None, upper, upper, True, 1)
            return self._outcome(parent, units_done, start_peak, start_peak, True, 1)
        heap = [(max(start_peak, self.static_bound), start_peak, units_done, ready, done, mem)]
        found: int | None = None
        states = expanded = generated = 0
        while heap:
            f, g, udone, ready, done, mem = heap[0]
            if f >= upper:
                break
            heapq.heappop(heap)
            if best_g[udone] < g:
                continue
            expanded += 1
            if expanded % CHECK_EVERY == 0:
                work.charge(generated)
                generated = 0
                if work.exhausted():
                    return self._outcome(parent, found, upper, min(f, upper), False, states)
            children, complete, generated_here = self._expand((f, g, udone, ready, done, mem), upper, best_g, parent)
            generated += generated_here
            if complete is not None:
                upper, found = complete
            for child in children:
                if child[1] < upper:
                    heapq.heappush(heap, child)
                    states += 1
        work.charge(generated)
        return self._outcome(parent, found, upper, upper, True, states)

    def _expand(self, state: tuple, upper: int, best_g: dict, parent: dict):
        """The children of one state below ``upper`` (closed under forced moves, not reached before
        with no higher peak), the best complete order among them as (peak, set), and how many
        children were generated."""
        f, g, udone, ready, done, mem = state
        profiles, depends, forcable = self.profiles, self.unit_depends, self.forcable
        # profiles of the ready units in this state; those that free what they allocate, by
        # increasing peak, to see which of them the headroom of a child lets through
        infos, freeing = [], []
        pending = ready
        while pending:
            low = pending & -pending
            pending ^= low
            i = low.bit_length() - 1
            cached = profiles[i].get((done & depends[i]) << 1 | (done == 0))
            top, residual = cached if cached is not None else self.profile(i, done)
            infos.append((i, low, top, residual))
            if residual <= 0 and low & forcable:
                freeing.append((top, low))
        freeing.sort()
        children, complete = [], None
        everything = (1 << len(self.units)) - 1
        for i, low, top, residual in infos:
            top += mem
            g2 = top if top > g else g
            if g2 >= upper:
                continue
            udone2 = udone | low
            old = best_g.get(udone2)  # the same set reached before, closed or not, no higher
            if old is not None and old <= g2:
                continue
            best_g[udone2] = g2
            after = mem + residual
            ready2 = self._ready_after(ready, i, udone2)
            # the parent is closed: only new units, units sharing buffers with unit i, and freeing
            # units under the child's headroom can have become forced
            check = (ready2 & ~ready) | self.affected[i]
            headroom = g2 - after
            for peak_of_unit, bit in freeing:
                if peak_of_unit > headroom:
                    break
                check |= bit
            opened = udone2
            udone2, ready2, executed, after, forced = self.close(udone2, ready2, done | self.unit_mask[i], g2, after,
                                                                 check & ~low)
            if udone2 != opened:
                old = best_g.get(udone2)
                if old is not None and old <= g2:
                    continue
                best_g[udone2] = g2
            parent[udone2] = (udone, (i, *forced))
            if udone2 == everything:
                upper, complete = g2, (g2, udone2)
                continue
            children.append((f if f > g2 else g2, g2, udone2, ready2, executed, after))
        return children, complete, len(infos)

    def beam(self, width: int, work: Work) -> tuple[tuple[int, ...], int] | None:
        """A good order fast: breadth-first over units keeping the ``width`` best partial orders.

        Partial orders are ranked by (peak so far, live bytes); two reaching the same executed
        set keep the better one. Returns (order, peak), or None when the budget runs out first.
        """
        if not self.units:
            return (), self.model.base_bytes
        ready0 = sum(1 << i for i in range(len(self.units)) if not self.unit_preds[i])
        start_peak = self.start_mem + self.unused_initial
        udone, ready, done, mem, forced = self.close(0, ready0, 0, start_peak, self.start_mem)
        layer = {udone: (start_peak, mem, ready, done, forced)}
        everything = (1 << len(self.units)) - 1
        while True:
            if everything in layer:
                peak, _, _, _, path = layer[everything]
                return tuple(v for i in path for v in self.units[i].nodes), peak
            if work.exhausted():
                return None
            nxt: dict[int, tuple] = {}
            children = 0
            for udone, (g, mem, ready, done, path) in layer.items():
                children += ready.bit_count()
                pending = ready
                while pending:
                    low = pending & -pending
                    pending ^= low
                    i = low.bit_length() - 1
                    top, residual = self.profile(i, done)
                    g2 = max(g, mem + top)
                    udone2, ready2, done2, mem2, forced = self.close(
                        udone | low, self._ready_after(ready, i, udone | low), done | self.unit_mask[i], g2, mem + residual)
                    old = nxt.get(udone2)
                    if old is None or (g2, mem2) < old[:2]:
                        nxt[udone2] = (g2, mem2, ready2, done2, path + (i, *forced))
            work.charge(children)
            layer = dict(sorted(nxt.items(), key=lambda kv: kv[1][:2])[:width])

    def _outcome(self, parent, found, peak, bound, finished, states) -> SearchOutcome:
        order = None
        if found is not None:
            runs: list[tuple[int, ...]] = []
            state = found
            while state != -1:
                prev, units = parent[state]
                runs.append(units)
                state = prev
            order = tuple(v for units in reversed(runs) for i in units for v in self.units[i].nodes)
        return SearchOutcome(order, peak, min(bound, peak), finished, states)
