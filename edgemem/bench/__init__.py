"""``edgemem bench``: measure real peak memory and latency of an ONNX model on a device over SSH.

protocol (versioned JSON lines), agent (the single-file device side, stdlib only), transport /
client (this machine or OpenSSH), device (upload, probe, run, cancel, fetch), backends/ (one
file per runtime, by name), parsers/ (trtexec, tegrastats, Jetson identity), breakdown (memory
split), stats (percentiles), verdict (prediction next to measurement), store and compare
(results history), fleet (many devices at once). Never imports edgemem.memory.
"""
