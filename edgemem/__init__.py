"""edgemem: get neural networks onto memory-starved edge devices and prove they fit.

The public entry points are listed in ``__all__``; each is imported lazily so that
``import edgemem`` (and ``edgemem --help``) stays fast and never pulls in torch.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load_graph", "analyze", "AnalyzeOptions", "parse_size", "format_bytes",
           "Budget", "BudgetCheck", "check_budget", "Precision", "Scope"]


def __getattr__(name: str):
    if name == "load_graph":
        from edgemem.graph import load_graph

        return load_graph
    if name in ("analyze", "AnalyzeOptions"):
        from edgemem.memory import analyze as _analyze

        return getattr(_analyze, name)
    if name in ("Budget", "BudgetCheck", "check_budget", "Precision", "Scope"):
        from edgemem import budget

        return getattr(budget, name)
    if name in ("parse_size", "format_bytes"):
        from edgemem import units

        return getattr(units, name)
    raise AttributeError(f"module 'edgemem' has no attribute {name!r}")
