"""The bare FastAPI ceiling: the same body schema and server settings, no model, no database.

uvicorn --workers 2 bench.bare_app:app
"""

from __future__ import annotations

from fastapi import FastAPI

from service.schemas import VideoIn

app = FastAPI()


@app.post("/v1/videos/score")
def score(body: VideoIn) -> dict[str, object]:
    return {"video_id": body.video_id, "action": "allow", "scores": {}}
