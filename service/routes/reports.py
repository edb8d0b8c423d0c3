"""/v1/reports: the enforcement report (JSON or CSV) for analysts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from service.auth import Analyst
from service.report import enforcement_report, parse_period
from service.schemas import REGION

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/enforcement", summary="The Community Guidelines Enforcement Report")
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
