"""/v1/reports: the enforcement report (JSON or CSV) and DSA statements of reasons."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from service.auth import Analyst
from service.report import enforcement_report, parse_period
from service.schemas import REGION
from service.sor import statements_of_reasons

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/enforcement",
    summary="The Community Guidelines Enforcement Report",
    # format=csv answers the same report as a CSV file: documented beside the JSON
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def enforcement(
    request: Request,
    key: Analyst,
    period: Annotated[str | None, Query(max_length=16, description="2023Q1 or 2023-03")] = None,
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: Annotated[dt.date | None, Query()] = None,
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    label: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Every metric of the report in total, per region and per policy label, beside the
    previous period of the same length, rates with their numerators and denominators."""
    chosen = parse_period(period, from_, to)
    report = enforcement_report(request.app.state.engine, chosen, region, label)
    if format == "csv":
        name = f"enforcement-{chosen.name}{'-' + region if region else ''}.csv"
        return Response(
            report.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(report.to_json())


@router.get(
    "/statements-of-reasons",
    summary="DSA statements of reasons, one JSON line per removal",
    response_class=StreamingResponse,
)
def statements_of_reasons_route(
    request: Request,
    key: Analyst,
    period: Annotated[str | None, Query(max_length=16, description="2023Q1 or 2023-03")] = None,
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: Annotated[dt.date | None, Query()] = None,
) -> StreamingResponse:
    """One statement of reasons per removal in the period, in the EU DSA Transparency
    Database's schema, as JSON lines (application/x-ndjson)."""
    chosen = parse_period(period, from_, to)
    engine = request.app.state.engine
    policy = request.app.state.policy

    def lines() -> Iterator[bytes]:
        for statement in statements_of_reasons(engine, policy, chosen):
            yield (json.dumps(statement, ensure_ascii=False) + "\n").encode()

    name = f"statements-of-reasons-{chosen.name}.jsonl"
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
