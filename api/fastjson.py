"""JSON responses for the hot endpoints without building pydantic models per row.

The route still declares its `response_model` (OpenAPI, schemathesis check the shape); the handler returns
plain dicts serialised by pydantic-core, which writes UTC datetimes as ISO 8601 with `Z`, like the models.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic_core import to_json


class FastJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
        return to_json(content)
