"""Generating the committed OpenAPI document."""

import json
from pathlib import Path
from typing import Any

from app.config import Settings


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the application, as served at /openapi.json."""
    from app.api.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite://", docs_enabled=True))
    return app.openapi()


def render() -> str:
    """The document as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def write_openapi(path: Path) -> Path:
    """Write the document to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path
