"""verify: the runtime-aware prediction meets the measurement of repeated fresh processes."""
