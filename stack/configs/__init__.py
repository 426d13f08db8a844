"""Pure renderers of the config files the lab's parts read, one module per file produced.

No Pulumi import: the components upload these texts, local mode writes them next to local
processes, and the tests feed them to the real tools (traefik, promtool).
"""
