"""How right the figures are: per-node error against an emulated counter."""
