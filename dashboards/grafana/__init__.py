"""Grafana dashboards built with grafana-foundation-sdk (builders for Grafana 11.6)."""
