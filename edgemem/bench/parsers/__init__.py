"""Host-side parsers of raw device output (trtexec logs, tegrastats lines, nvpmodel, L4T identity).

The agent ships raw text back; these parsers are the source of truth, tested against the real
recorded outputs under tests/fixtures/device/. Standard library only.
"""
