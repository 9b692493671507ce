"""The `jaxops` command line (Hydra entry points)."""
