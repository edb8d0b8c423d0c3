"""The bare FastAPI ceiling: the same body schema and server settings, no model, no database.

uvicorn --workers 2 bench.bare_app:app

The handler is async, as the service's scoring handler has been since 54e04af (2026-11-29): a
plain `def` runs on FastAPI's threadpool, a hop that nearly doubles a bare endpoint's CPU
(275-306 against 151-161 us a request in bench/service_throughput.py's runs), which the
service's scoring handler no longer pays. Ceilings measured before this file changed used
`def`.
"""

from __future__ import annotations

from fastapi import FastAPI

from service.schemas import VideoIn

app = FastAPI()


@app.post("/v1/videos/score")
async def score(body: VideoIn) -> dict[str, object]:
    return {"video_id": body.video_id, "action": "allow", "scores": {}}
