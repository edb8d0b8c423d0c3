"""Hostile input: schemathesis against the OpenAPI document a real `mizan serve` serves, over
every operation, as each role, as a key with every role, and with no key.

Checks: all of schemathesis's but positive_data_acceptance, so: no 5xx, every status, content
type, header and body as the document says, invalid data refused, auth never ignored. The one
left out asserts that the document is the whole validation; it is not, by design: a segment
ending before it starts, a video with no text, the same video twice in a batch, a removal
without its label and a report period outside 1971-9998 are refused with a 422 problem the
schema language cannot announce (service/openapi.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from redis import Redis

from service.domain import Role
from tests.service.served import Served, served

CONFIG = Path(__file__).with_name("schemathesis.toml")
ROLES = tuple(role.value for role in Role)
# The key with every role reaches every handler: it gets every phase (the coverage phase's
# boundary values included). A single role, or no key, mostly proves the 401s and 403s and
# its own handlers: generated (fuzzing) cases only, which keeps the test near a minute.
EXAMPLES = {"all": 30, "none": 10, **dict.fromkeys(ROLES, 10)}
MINIMUM_CASES = 2_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Served]:
    Redis.from_url(redis_url).flushdb()
    with served(tmp_path_factory.mktemp("schemathesis"), redis_url, workers=1) as running:
        yield running


def run_schemathesis(server: Served, who: str, report: Path) -> tuple[int, str]:
    headers: list[str] = []
    if who != "none":
        roles = ROLES if who == "all" else (who,)
        headers = ["-H", f"Authorization: Bearer {server.create_key(*roles, name=who)}"]
    command = [
        *(str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG), "run"),
        f"{server.base}/openapi.json",
        *headers,
        *("--checks", "all", "--exclude-checks", "positive_data_acceptance"),
        *("--max-examples", str(EXAMPLES[who]), "--workers", "1"),
        *(() if who == "all" else ("--phases", "fuzzing")),
        *("--generation-database", "none", "--no-color"),
        *("--report", "junit", "--report-junit-path", str(report)),
    ]
    # its cache (.schemathesis/) goes beside the report, not into the checkout
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=report.parent
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, f"schemathesis as {who} found failures:\n{output[-6000:]}"
    generated = re.search(r"(\d+) generated", output)
    assert generated, output[-2000:]
    return int(generated.group(1)), output


def test_generated_requests_as_every_role_get_no_5xx_and_match_the_document(
    server: Served, tmp_path: Path, record_testsuite_property: Callable[[str, object], None]
) -> None:
    document = httpx.get(f"{server.base}/openapi.json").json()
    operations = sum(len(item) for item in document["paths"].values())
    callers = ("all", *ROLES, "none")
    # two callers at a time: schemathesis generating cases is most of the time, and with one
    # run at a time one of the two cores sat mostly idle (CI time, not coverage)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda who: run_schemathesis(server, who, tmp_path / f"{who}.xml"), callers)
        outputs = dict(zip(callers, runs, strict=True))
    cases: dict[str, int] = {}
    for who, (generated, output) in outputs.items():
        cases[who] = generated
        tested = re.search(r"Tested: (\d+)", output)
        assert tested, output[-2000:]
        assert int(tested.group(1)) == operations, f"{who}: not every operation was tested"
    # in a junit report (--junitxml): the cases per caller
    record_testsuite_property("schemathesis_cases", json.dumps(cases))
    assert sum(cases.values()) >= MINIMUM_CASES, cases
