"""``edgemem distill`` (registered here; implemented in edgemem.distill)."""
