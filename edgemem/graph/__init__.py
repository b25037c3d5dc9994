"""ONNX in, typed graph out. The only package that imports onnx.

``load_graph(path, ...)`` loads a model (with external data, path-based for >2 GB files),
sizes every tensor through a chain of shape-inference methods, validates the graph and
returns a ``Graph`` of plain frozen dataclasses that the memory analysis consumes.
"""

from edgemem.graph.types import Graph, Node, TensorInfo, LoadOptions

__all__ = ["Graph", "Node", "TensorInfo", "LoadOptions", "load_graph"]


def load_graph(path, options: "LoadOptions | None" = None) -> Graph:
    """Load ``path`` and return its sized, validated ``Graph``."""
    from edgemem.graph.build import graph_from_path

    return graph_from_path(path, options or LoadOptions())
