"""Export normalized events for research: Parquet (exact decimals, ns times) or tardis-style CSV.

    from sdk.export import export

    result = await export(events, "data", to="parquet")

writes ``data/<exchange>/<channel>/<YYYY-MM-DD>.parquet`` files that polars and pandas read as they
are. Parquet needs the ``parquet`` extra (pyarrow); CSV needs nothing.
"""

from sdk.export.exporter import ExportedFile, Exporter, ExportProgress, ExportResult, Format, export, export_sync

__all__ = ["ExportProgress", "ExportResult", "ExportedFile", "Exporter", "Format", "export", "export_sync"]
