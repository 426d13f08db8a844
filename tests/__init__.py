"""The lab's tests, as packages mirroring the source (docs/architecture.md)."""
