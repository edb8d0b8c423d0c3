"""The database stops answering: requests get a 503 problem with Retry-After and nothing is
written; when it is back, the same request succeeds once. Our own SQL faults stay 500s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from service.app import create_app
from service.domain import Role
from service.settings import Settings
from tests.service.conftest import BACKENDS, SPAM, KeyMaker, video
from tests.service.tcp_proxy import TcpProxy


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    url = sa.engine.make_url(database_url)
    running = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    running.start()
    yield running
    running.cut()


# Like every PostgreSQL test, it runs when MIZAN_TEST_DATABASE_URL is set (.ci/run sets it);
# defined only then, rather than collected and skipped.
if "postgresql" in BACKENDS:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_database_that_stops_answering_is_a_503_and_then_recovers(
        settings: Settings, database_url: str, proxy: TcpProxy, make_key: KeyMaker
    ) -> None:
        through_proxy = sa.engine.make_url(database_url).set(host="127.0.0.1", port=proxy.port)
        proxied = settings.model_copy(
            update={"database_url": through_proxy.render_as_string(hide_password=False)}
        )
        headers = make_key(Role.UPLOADER)  # made through the direct app of the client fixture
        with TestClient(create_app(proxied)) as client:
            ok = client.post("/v1/videos/score", json=video("before", **SPAM), headers=headers)
            assert ok.status_code == 200
            proxy.cut()  # the server "dies": open connections reset, new ones refused
            down = client.post("/v1/videos/score", json=video("during", **SPAM), headers=headers)
            assert down.status_code == 503, down.text
            assert down.headers["retry-after"] == "2"
            assert down.headers["content-type"] == "application/problem+json"
            proxy.start()  # back
            again = client.post("/v1/videos/score", json=video("during", **SPAM), headers=headers)
            assert again.status_code == 200, again.text
            assert "idempotent-replayed" not in again.headers  # the 503 had written nothing
            history = client.get("/v1/videos/during", headers=headers).json()["history"]
            assert [event["type"] for event in history] == ["scored", "auto_removed"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_fault_in_our_own_sql_is_a_500_not_a_503(settings: Settings, make_key: KeyMaker) -> None:
    headers = make_key(Role.UPLOADER)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        engine: sa.Engine = client.app.state.engine  # type: ignore[attr-defined]
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE contents"))  # as a missed migration would
        response = client.post("/v1/videos/score", json=video("v1"), headers=headers)
        assert response.status_code == 500
        assert response.json()["type"] == "/problems/internal"
