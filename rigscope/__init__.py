"""rigscope: a terminal monitor for ML workloads on GPU boxes.

Importing this package stays cheap: the command line lives in `rigscope.cli`,
and nothing heavy (Textual, polars, NVML) is imported here.
"""

__version__ = "0.1.0"

# The probe API (`rigscope.span`, `start_span`, `tag`, `metric`, `note`) is loaded on first use,
# so that `import rigscope` alone costs next to nothing in a workload's process.
_PROBE = ("span", "start_span", "tag", "metric", "note", "Span")


def __getattr__(name: str):  # noqa: ANN202 (PEP 562 module attribute)
    if name in _PROBE:
        from rigscope import probe

        value = getattr(probe, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rigscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PROBE])
