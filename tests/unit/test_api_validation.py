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


def test_range_longer_than_seven_days_is_rejected():
    response = _client().get(
        "/v1/content/x/minutes", params={"start": "2026-01-01T00:00:00Z", "end": "2026-01-09T00:00:00Z"}
    )
    assert response.status_code == 422 and "7 days" in response.text


def test_openapi_documents_the_key_header():
    spec = _client().get("/openapi.json").json()
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])
