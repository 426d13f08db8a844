"""The lab's function service (compute, handlers, metrics, access_log, server) and its contract."""
