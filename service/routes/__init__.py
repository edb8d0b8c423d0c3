"""HTTP routes, one module per resource. Handlers are plain ``def``: scoring and the SQL engine
block, so FastAPI runs them in its threadpool instead of on the event loop."""
