"""``edgemem bench`` (registered here; implemented in edgemem.bench)."""
