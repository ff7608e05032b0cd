"""Sinks that serve a running session to others: HTTP and Prometheus now, the attach publisher later."""
