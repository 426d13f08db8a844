"""Grafana dashboards, Prometheus rules and Kibana saved objects for the lab, written as code.

Pure: renders text and dicts from `app.contract` only; the Pulumi program uploads them, and
`make dashboards` writes the same text out for inspection.
"""
