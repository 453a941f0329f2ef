"""/docs and /redoc render with no internet: every asset they reference is served here."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

EXPECTED_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
}


class _Assets(HTMLParser):
    """The URLs of a page's scripts and links (stylesheets, icons)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"])
        if tag == "link" and found.get("href"):
            self.urls.append(found["href"])


def _asset_urls(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_reference_pages_use_only_same_origin_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    urls = _asset_urls(response.text)
    assert any(u.endswith(".js") for u in urls), urls  # the page's script is among them
    assert "cdn" not in response.text and "fonts.googleapis" not in response.text
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} references {url}"
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = parts.path[parts.path.rfind(".") :]
        content_type = asset.headers["content-type"].split(";")[0]
        assert content_type in EXPECTED_TYPES[suffix], (url, content_type)
        assert len(asset.content) > 100, url  # a real file, not an empty stand-in


def test_swagger_ui_loads_this_servers_openapi_document(client):
    html = client.get("/docs").text
    assert "url: '/openapi.json'" in html
    assert "SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").text
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "FreeAgentics"
