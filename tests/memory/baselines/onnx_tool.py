"""onnx-tool 1.0.1's Graph.compress_memory: online block allocation in execution order."""

from __future__ import annotations

SPLIT_ABOVE = 1024 * 1024  # a free block is split only when more than this is left over


def onnx_tool(names, sizes, first, last, alignment=1):
    n = len(sizes)
    steps = max(last, default=-1) + 1
    tags: list[int | None] = []  # per block: the buffer in it, or None when free
    blocks: list[list[int]] = []  # per block: [offset, size]
    offsets = [0] * n
    arrival = sorted(range(n), key=lambda b: (first[b], b))
    position = 0
    for step in range(steps):
        live = {b for b in range(n) if first[b] <= step <= last[b]}
        i = 0
        while i < len(tags):  # release, merging with free neighbours; like the original
            tag = tags[i]       # ``enumerate`` over a list it shrinks, it skips the block after a merge
            if tag is not None and tag not in live:
                before = i >= 1 and tags[i - 1] is None
                after = i < len(tags) - 1 and tags[i + 1] is None
                if before and after:
                    merged = [blocks[i - 1][0], blocks[i + 1][0] + blocks[i + 1][1] - blocks[i - 1][0]]
                    del tags[i:i + 2], blocks[i:i + 2]
                    tags[i - 1], blocks[i - 1] = None, merged
                elif before:
                    merged = [blocks[i - 1][0], blocks[i][0] + blocks[i][1] - blocks[i - 1][0]]
                    del tags[i], blocks[i]
                    tags[i - 1], blocks[i - 1] = None, merged
                elif after:
                    merged = [blocks[i][0], blocks[i + 1][0] + blocks[i + 1][1] - blocks[i][0]]
                    del tags[i], blocks[i]
                    tags[i], blocks[i] = None, merged
                else:
                    tags[i] = None
            i += 1
        while position < n and first[arrival[position]] == step:
            b = arrival[position]
            position += 1
            size = sizes[b]
            for k, tag in enumerate(tags):
                if tag is None and blocks[k][1] >= size:
                    if blocks[k][1] - size > SPLIT_ABOVE:
                        tags.insert(k + 1, None)
                        blocks.insert(k + 1, [blocks[k][0] + size, blocks[k][1] - size])
                        blocks[k][1] = size
                    tags[k] = b
                    break
            else:
                if tags and tags[-1] is None:
                    blocks[-1][1] = size
                    tags[-1] = b
                else:
                    start = blocks[-1][0] + blocks[-1][1] if blocks else 0
                    tags.append(b)
                    blocks.append([start, size])
            offsets[b] = blocks[tags.index(b)][0]
    arena = blocks[-1][0] + blocks[-1][1] if blocks else 0
    return offsets, arena
