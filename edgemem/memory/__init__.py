"""Pure memory analysis over plain records: lifetimes, orders, arena placement, bounds, checks.

No I/O, printing, globals or environment reads. Entry point: ``edgemem.memory.analyze.analyze``.
"""
