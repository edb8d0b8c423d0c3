"""The composition root: the FastAPI app, use cases, decision log, report, console and CLI."""
