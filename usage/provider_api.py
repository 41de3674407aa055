"""HTTP to the providers' admin APIs (docs/formats.md §2, §4): JSON GETs with the provider's
auth headers, 429 `retry-after` honoured, 5xx and network errors retried with exponential
backoff, paging cursors followed. Base URLs: settings.ANTHROPIC_ADMIN_API_URL and
OPENAI_ADMIN_API_URL. The one place costwatch talks to a provider."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from django.conf import settings

sleep = time.sleep  # tests replace it to see the waits
MAX_WAIT = 120.0
PROVIDER_NAMES = {"anthropic": "Anthropic", "openai": "OpenAI"}


class ProviderError(Exception):
    """The provider could not be read; the message says why, for the user."""


class KeyRejected(ProviderError):
    """401/403: the admin key is wrong, expired or revoked."""


def base_url(provider: str) -> str:
    return settings.ANTHROPIC_ADMIN_API_URL if provider == "anthropic" else settings.OPENAI_ADMIN_API_URL


def headers(provider: str, key: str) -> dict[str, str]:
    if provider == "anthropic":
        return {"x-api-key": key, "anthropic-version": "2023-06-01", "accept": "application/json"}
    return {"Authorization": f"Bearer {key}", "accept": "application/json"}


def _retry_after(error: HTTPError) -> float | None:
    value = error.headers.get("retry-after") if error.headers else None
    try:
        return min(MAX_WAIT, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def get_json(provider: str, key: str, path: str, params: list[tuple[str, str]]) -> dict:
    url = base_url(provider) + path + ("?" + urlencode(params) if params else "")
    name = PROVIDER_NAMES[provider]
    retries = settings.PROVIDER_SYNC_RETRIES
    for attempt in range(retries + 1):
        wait = min(MAX_WAIT, 2.0 ** attempt)
        try:
            with urlopen(Request(url, headers=headers(provider, key)), timeout=settings.PROVIDER_SYNC_TIMEOUT) as resp:
                body = json.load(resp)
            if not isinstance(body, dict):
                raise ProviderError(f"{name} answered {path} with {type(body).__name__}, expected a JSON object")
            return body
        except HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            if exc.code in (401, 403):
                raise KeyRejected(
                    f"{name} rejected the admin key (HTTP {exc.code}): it is expired, revoked or not an "
                    f"admin key. Enter a new key on the Connections page."
                ) from None
            if exc.code == 429:
                wait = _retry_after(exc) if _retry_after(exc) is not None else wait
                problem = f"rate limited (HTTP 429) on {path}"
            elif exc.code >= 500:
                problem = f"HTTP {exc.code} on {path}"
            else:
                raise ProviderError(f"{name} refused {path} (HTTP {exc.code}): {detail}") from None
        except (URLError, TimeoutError, ConnectionError) as exc:
            problem = f"{path} unreachable ({getattr(exc, 'reason', exc)})"
        except json.JSONDecodeError:
            raise ProviderError(f"{name} answered {path} with something that is not JSON") from None
        if attempt == retries:
            raise ProviderError(f"{name}: {problem}, still after {retries + 1} attempts")
        sleep(wait)
    raise AssertionError("unreachable")


def report_pages(provider: str, key: str, path: str, params: list[tuple[str, str]]) -> Iterator[dict]:
    """Usage / cost report pages, following `has_more` + `next_page` (passed as `page`)."""
    cursor = None
    while True:
        page = get_json(provider, key, path, params + ([("page", cursor)] if cursor else []))
        yield page
        cursor = page.get("next_page")
        if not page.get("has_more") or not cursor:
            return


def list_all(provider: str, key: str, path: str) -> Iterator[dict]:
    """Every object of a list endpoint (keys, workspaces, projects): `has_more` + `last_id`,
    passed back as `after_id` (Anthropic) or `after` (OpenAI)."""
    after = None
    param = "after_id" if provider == "anthropic" else "after"
    while True:
        page = get_json(provider, key, path, [("limit", "100")] + ([(param, after)] if after else []))
        items = [item for item in page.get("data") or [] if isinstance(item, dict)]
        yield from items
        after = page.get("last_id") or (items[-1].get("id") if items else None)
        if not page.get("has_more") or not after:
            return
