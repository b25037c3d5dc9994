"""Student derivation: graph transforms of a teacher (aggressive pooling, cheap convolutions, width)."""
