"""/docs and /redoc work with no internet: every asset they load is served by the API itself."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.main import create_app

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(dsn="postgresql://nobody@127.0.0.1:1/none"))  # no lifespan: no database


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets_and_those_are_served(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    # Anything the browser would fetch: src/href attributes, url: '...' (Swagger UI), spec-url (ReDoc), @import.
    urls = set(re.findall(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""", html.text))
    assert not re.search(r"https?://|//cdn|@import", html.text), "an absolute or CDN URL in the page"
    assets = {u for u in urls if not u.endswith(".json")}
    assert len(assets) >= (3 if page == "/docs" else 2), urls  # JS (+ CSS for Swagger UI) and the favicon
    for url in urls:
        assert url.startswith("/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        kind = CONTENT_TYPES[url[url.rindex(".") :]]
        assert kind in response.headers["content-type"], (url, response.headers["content-type"])
        assert len(response.content) > (100_000 if url.endswith((".js", ".css")) else 100), url
    bundle = "/docs-assets/swagger-ui-bundle.js" if page == "/docs" else "/docs-assets/redoc.standalone.js"
    assert bundle in urls


def test_the_bundled_scripts_are_the_real_libraries(client: TestClient) -> None:
    assert b"SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").content
    assert b"Redoc" in client.get("/docs-assets/redoc.standalone.js").content
