"""The interactive documentation at /docs: Swagger UI, with its script, style sheet and icon
served by the service itself (from the `fastapi-offline` package), never from a CDN, so that
/docs works on a machine without the internet and shows the version of Swagger UI installed."""

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
ASSETS = files("fastapi_offline") / "static"


def install(app: FastAPI) -> None:
    """Serve Swagger UI at /docs for the app's OpenAPI document, its files under /docs/assets."""
    app.mount(ASSETS_PATH, StaticFiles(directory=str(ASSETS)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_PATH}/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            # Swagger UI would otherwise ask validator.swagger.io to check the document.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def oauth2_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(redirect_url, oauth2_redirect, include_in_schema=False)
