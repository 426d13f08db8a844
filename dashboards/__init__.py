"""Grafana dashboards, Prometheus rules and Kibana saved objects for the lab, written as code.

Everything here is pure: it renders text and dicts that the Pulumi program uploads, and that
`python -m dashboards.render OUT_DIR` (`make dashboards`) writes out for inspection.
"""
