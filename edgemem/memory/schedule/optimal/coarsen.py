"""Chain coarsening that keeps the search exact: nodes that may as well run back to back.

A chain link v -> w needs w to be v's only successor and v to be w's only predecessor (in the
transitive sense: nothing can be forced between them), and every buffer w touches to be
allocated inside the chain, so w's allocations and frees do not depend on what else ran.
Along a chain, runs ("units") are merged with two exchange rules on their (peak, residual)
profiles relative to the memory before them, (P1, R1) then (P2, R2):

* the peak is in the first run and the second frees at least what it allocates
  (P1 >= R1 + P2 and R2 <= 0): moving the second run up to right after the first lowers
  every step in between and does not raise its own peak;
* the peak is in the second run and the first leaves memory behind
  (R1 + P2 >= P1 and R1 >= 0): moving the first run down to right before the second lowers
  every step in between, and its own peak stays under the second's.

The first node of a chain may free or allocate buffers shared with other nodes, so its run
is only ever moved in the first way. Each rule turns an optimal order into one with the two
runs adjacent and no higher peak, so some optimal order runs every unit contiguously
(Liu's hill-valley argument for trees, restated for one chain inside a DAG).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from edgemem.memory.schedule.optimal.model import MemModel, ancestor_masks, bits, descendant_masks


@dataclass(frozen=True)
class Unit:
    nodes: tuple[int, ...]  # run back to back in this order
    peak: int  # relative to the memory before the unit (state-independent part)
    residual: int
    shared_start: bool  # the first node touches buffers shared with nodes outside the chain


def touches_of(model: MemModel) -> list[list[int]]:
    touches: list[list[int]] = [[] for _ in range(model.n)]
    for b, users in enumerate(model.users):
        for v in bits(users):
            touches[v].append(b)
    return touches


def coarsen(model: MemModel, order: Sequence[int]) -> list[Unit]:
    """Units covering every node once, listed in the order of their first node in ``order``."""
    anc = ancestor_masks(model, order)
    desc = descendant_masks(model, order)
    position = {v: i for i, v in enumerate(order)}
    touches = touches_of(model)
    by_ancestors: dict[int, list[int]] = {}
    for v in order:
        by_ancestors.setdefault(anc[v], []).append(v)
    nxt: dict[int, int] = {}
    for v in order:
        for w in by_ancestors.get(anc[v] | (1 << v), ()):
            if desc[v] == desc[w] | (1 << w):
                nxt[v] = w
    followers = set(nxt.values())
    heads = [v for v in order if v not in followers]
    units: list[Unit] = []
    for head in heads:
        chain = [head]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        units.extend(_units_of_chain(model, chain, touches, anc, desc))
    units.sort(key=lambda u: position[u.nodes[0]])
    return units


def _fixed_effects(model: MemModel, v: int, touches: list[list[int]], anc: list[int], desc: list[int]) -> bool:
    """What ``v`` allocates and frees does not depend on what else ran: every buffer it touches is
    allocated by an ancestor or by v alone, and every other user of it is an ancestor or a
    descendant of v (so v frees it exactly when v is its last user in every order)."""
    comparable = anc[v] | desc[v] | 1 << v
    for b in touches[v]:
        alloc = model.alloc[b]
        if not (alloc and (alloc & ~anc[v] == 0 or alloc == 1 << v)) or model.users[b] & ~comparable:
            return False
    return True


def _split_chain(model: MemModel, chain: list[int], touches: list[list[int]], anc: list[int],
                 desc: list[int]) -> list[list[int]]:
    """Cut the chain before every node whose allocations or frees depend on what else ran."""
    pieces: list[list[int]] = [[chain[0]]]
    for v in chain[1:]:
        if _fixed_effects(model, v, touches, anc, desc):
            pieces[-1].append(v)
        else:
            pieces.append([v])
    return pieces


def _units_of_chain(model: MemModel, chain: list[int], touches: list[list[int]], anc: list[int],
                    desc: list[int]) -> list[Unit]:
    units: list[Unit] = []
    for piece in _split_chain(model, chain, touches, anc, desc):
        stack: list[Unit] = []
        for i, v in enumerate(piece):
            new = freed = 0
            before = anc[v] if i else 0  # the piece's head counts only what is surely its own
            for b in touches[v]:
                if model.alloc[b] == 1 << v:
                    new += model.sizes[b]  # allocated here, by nothing else
                if not model.kept[b] and not model.users[b] & ~(before | 1 << v):
                    freed += model.sizes[b]
            stack.append(Unit((v,), new, new - freed, i == 0))
            while len(stack) >= 2 and _mergeable(stack[-2], stack[-1]):
                second = stack.pop()
                first = stack.pop()
                stack.append(Unit(first.nodes + second.nodes, max(first.peak, first.residual + second.peak),
                                  first.residual + second.residual, first.shared_start))
        units.extend(stack)
    return units


def _mergeable(first: Unit, second: Unit) -> bool:
    p1, r1, p2, r2 = first.peak, first.residual, second.peak, second.residual
    if p1 >= r1 + p2 and r2 <= 0:
        return True
    return not first.shared_start and r1 + p2 >= p1 and r1 >= 0
