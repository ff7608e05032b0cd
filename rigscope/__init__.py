"""rigscope: a terminal monitor for ML workloads on GPU boxes.

Importing this package stays cheap: the command line lives in `rigscope.cli`,
and nothing heavy (Textual, polars, NVML) is imported here.
"""

__version__ = "0.1.0"
