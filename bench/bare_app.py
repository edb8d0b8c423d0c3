"""The bare FastAPI ceiling: the same body schema and server settings, no model, no database.

uvicorn --workers 2 bench.bare_app:app

The handler is async, as the service's scoring handler is: a plain `def` would be run on the
threadpool, a hop that costs more CPU than the whole of this endpoint (bare FastAPI with a
`def` handler measured ~410 us a request against ~150 async, one worker), and ceilings up to
2026-11-29 were measured that way, too low for a service that does not pay it.
"""

from __future__ import annotations

from fastapi import FastAPI

from service.schemas import VideoIn

app = FastAPI()


@app.post("/v1/videos/score")
async def score(body: VideoIn) -> dict[str, object]:
    return {"video_id": body.video_id, "action": "allow", "scores": {}}
