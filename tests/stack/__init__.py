"""Tests of stack/ (docs/architecture.md)."""
