"""Tests of dashboards/ (docs/architecture.md)."""
