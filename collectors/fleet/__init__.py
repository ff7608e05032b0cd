"""The fleet source: many nodes read from a Prometheus server's HTTP API or from their `/metrics` pages.

`exporters/` holds one adapter table per exporter; `promql` and `prom_client` read a
Prometheus server with a fixed number of grouped queries, `scrape` reads pages
directly; both give `NodeReading`s that `model` turns into the table and totals
that the CLI prints and the fleet screen draws.  Nothing here imports Textual.
"""
