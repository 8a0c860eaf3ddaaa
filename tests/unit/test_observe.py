"""The gateway's outermost view of each response: privacy headers, metrics and a log line that never hold a path."""

from __future__ import annotations

import logging

import pytest
from gateway.api.observe import Observe
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

TOKEN = "Zk3mQ9v2Lr8xT1wBn5cYpA"


def manage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def framed(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok", headers={"Content-Security-Policy": "default-src 'none'"})


def broken(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/m/{token}", manage), Route("/framed", framed),
                            Route("/broken/{token}", broken)])
    return TestClient(Observe(app), raise_server_exceptions=False)


def counted(route: str, status: str, method: str = "GET") -> float:
    value = REGISTRY.get_sample_value("lotse_gateway_http_requests_total",
                                      {"method": method, "route": route, "status": status})
    return value or 0.0


def test_every_response_carries_the_privacy_headers(client: TestClient) -> None:
    for path in (f"/m/{TOKEN}", "/nowhere"):
        response = client.get(path)
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_a_header_the_handler_set_itself_is_kept_and_not_doubled(client: TestClient) -> None:
    response = client.get("/framed")
    assert response.headers.get_list("content-security-policy") == ["default-src 'none'"]


def test_metrics_and_the_log_line_name_the_route_template_never_the_token(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    before, unmatched = counted("/m/{token}", "200"), counted("unmatched", "404")
    with caplog.at_level(logging.INFO, logger="gateway.app"):
        client.get(f"/m/{TOKEN}")
        client.get(f"/elsewhere/{TOKEN}")
    assert counted("/m/{token}", "200") == before + 1
    assert counted("unmatched", "404") == unmatched + 1
    assert [r.getMessage() for r in caplog.records] == ["GET /m/{token} -> 200", "GET unmatched -> 404"]
    exposition = "\n".join(str(sample) for metric in REGISTRY.collect() for sample in metric.samples)
    assert TOKEN not in exposition


def test_a_handler_that_fails_is_counted_as_the_500_the_client_gets(client: TestClient) -> None:
    before = counted("/broken/{token}", "500")
    response = client.get(f"/broken/{TOKEN}")
    assert response.status_code == 500
    assert counted("/broken/{token}", "500") == before + 1
