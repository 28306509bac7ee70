"""Request validation happens before any database access, so a fake key check is enough here."""

from fastapi.testclient import TestClient

from api.deps import get_conn, require_key
from api.keys import ApiKey
from api.main import create_app


def _client() -> TestClient:
    app = create_app(dsn="postgresql://nobody@127.0.0.1:1/none")
    app.dependency_overrides[require_key] = lambda: ApiKey("k", "test", ("read",))
    app.dependency_overrides[get_conn] = lambda: None  # these requests must fail before any query
    return TestClient(app)


def test_naive_datetime_is_rejected_with_the_field_named():
    response = _client().get("/v1/content/x/minutes", params={"start": "2026-01-01T00:00:00"})
    assert response.status_code == 422
    assert "start" in response.text


def test_unix_times_and_dates_are_not_instants():
    for value in ("0.5", "1767225600", "2026-01-01"):
        response = _client().get("/v1/content/x/minutes", params={"end": value})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "end", value
        assert response.headers["content-type"] == "application/problem+json"


def test_unknown_routes_and_methods_are_problems_too():
    client = _client()
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = client.delete("/v1/trending")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert wrong.headers["content-type"] == "application/problem+json"


def test_openapi_documents_the_key_header():
    spec = _client().get("/openapi.json").json()
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])
