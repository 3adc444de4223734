"""Kajabi's Public API over HTTP: OAuth 2.0 client credentials (through authlib), JSON:API pagination.

Tokens: `POST /v1/oauth/token` with grant_type=client_credentials gives an access token (with
`expires_in`) and a refresh token. Refresh tokens are single-use, so a refreshed pair is written back into
the credentials at once (the service stores them encrypted after the call). When a refresh is refused
the client asks for a new pair with the client id and secret; only when those are refused too is the key
gone (deleted or rotated in Kajabi), which the creator fixes by reconnecting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from adapters.platforms.http import RetryingHttp, raise_for_retryable
from core.ports.platforms import Credentials, CredentialsRejected, PlatformError

log = logging.getLogger(__name__)

JSON_API = "application/vnd.api+json"
#: Kajabi is observed to fail on page sizes above 25 (research §1.5).
PAGE_SIZE = 25
#: Renew this many seconds before Kajabi's stated expiry, so a long sync never sends a dying token.
TOKEN_LEEWAY = 60
SETTINGS_PATH = "Settings > Public API"

REJECTED_KEY = (
    "Kajabi no longer accepts this API key: it was deleted or its secret was rotated. "
    f"Create a new User API Key in Kajabi ({SETTINGS_PATH}) and reconnect."
)
WRONG_SECRET = (
    "Kajabi did not accept this client ID and secret. Copy both again from "
    f"Kajabi Dashboard > {SETTINGS_PATH} (the key's client ID and client secret, not the old Zapier API key)."
)
NO_PUBLIC_API = (
    "Your Kajabi plan does not include the Public API. It is part of the Pro plan "
    "(older plans can add it as an add-on in Kajabi's billing settings); connect again once it is on."
)

PERMISSION_LABELS = {
    "view:purchases": "View purchases",
    "view:transactions": "View transactions",
    "view:orders": "View orders",
    "view:contacts": "View contacts",
}


def missing_permission_message(permission: str | None) -> str:
    named = f"the “{PERMISSION_LABELS.get(permission, permission)}” permission" if permission else "a permission"
    return (
        f"This Kajabi API key lacks {named}. In Kajabi, open {SETTINGS_PATH}, edit the key (or create a new "
        "one) with View purchases, View transactions, View orders and View contacts ticked, then connect again."
    )


def _error_detail(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return " ".join(str(e.get("detail") or e.get("title") or "") for e in errors if isinstance(e, Mapping))
    except (ValueError, AttributeError):
        return ""


class KajabiClient:
    def __init__(self, api_url: str, credentials: Credentials, http: RetryingHttp, page_size: int = PAGE_SIZE) -> None:
        self._api = api_url.rstrip("/")
        self._page_size = page_size
        self._credentials = credentials
        self._http = http
        self._session = OAuth2Session(
            client_id=credentials.get("client_id", ""),
            client_secret=credentials.get("client_secret", ""),
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name, not a secret  # nosec B106
            # Renewal is ours (see _ensure_token, which renews TOKEN_LEEWAY early); authlib never has to.
            leeway=0,
        )
        for hook in ("access_token_response", "refresh_token_response"):
            self._session.register_compliance_hook(hook, raise_for_retryable)
        if credentials.get("access_token"):
            self._session.token = {
                "access_token": credentials["access_token"],
                "refresh_token": credentials.get("refresh_token", ""),
                "token_type": "Bearer",  # the OAuth token type, not a secret  # nosec B105
                "expires_at": int(float(credentials.get("expires_at") or 0)),
            }

    @property
    def token_url(self) -> str:
        return f"{self._api}/v1/oauth/token"

    # ---- tokens ----------------------------------------------------------------------------------
    def _keep(self, token: Mapping[str, Any]) -> None:
        expires_at = token.get("expires_at") or time.time() + float(token.get("expires_in") or 0)
        self._credentials["access_token"] = str(token["access_token"])
        self._credentials["refresh_token"] = str(token.get("refresh_token") or "")
        self._credentials["expires_at"] = str(int(expires_at))

    def _grant(self, *, first: bool = False) -> None:
        """A new token pair from the client id and secret. Refused on the first try, the creator mistyped;
        refused later, the key was deleted or rotated in Kajabi since."""
        try:
            token = self._http.run(lambda: self._session.fetch_token(self.token_url, grant_type="client_credentials"))
        except OAuthError as error:
            log.info("kajabi token grant refused: %s", error.error)
            raise CredentialsRejected(
                WRONG_SECRET if first and error.error == "invalid_client" else REJECTED_KEY
            ) from None
        self._keep(token)

    def _renew(self) -> None:
        refresh = self._credentials.get("refresh_token")
        if refresh:
            try:
                token = self._http.run(lambda: self._session.refresh_token(self.token_url, refresh_token=refresh))
            except OAuthError as error:
                log.info("kajabi refresh refused (%s); asking for a new token", error.error)
            else:
                self._keep(token)
                return
        self._grant()

    def _ensure_token(self) -> None:
        expires_at = float(self._credentials.get("expires_at") or 0)
        if not self._credentials.get("access_token"):
            self._grant()
        elif expires_at - TOKEN_LEEWAY <= time.time():
            self._renew()

    def authenticate(self) -> None:
        """Get a token with the client id and secret (the connect step)."""
        self._grant(first=True)

    # ---- requests --------------------------------------------------------------------------------
    def request(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        """An authenticated call; renews the token once on 401 (expired early, or revoked)."""
        url = path_or_url if path_or_url.startswith("http") else f"{self._api}{path_or_url}"
        headers = {"Accept": JSON_API, **kwargs.pop("headers", {})}
        self._ensure_token()
        response = self._http.request(self._session, method, url, headers=headers, **kwargs)
        if response.status_code == 401:
            self._renew()
            response = self._http.request(self._session, method, url, headers=headers, **kwargs)
            if response.status_code == 401:
                raise CredentialsRejected(REJECTED_KEY)
        if response.status_code == 403:
            detail = _error_detail(response)
            log.info("kajabi refused %s %s: %s", method, url.split("?")[0], detail)
            if "plan" in detail.lower():
                raise CredentialsRejected(NO_PUBLIC_API)
            permission = next((p for p in PERMISSION_LABELS if p in detail), None)
            raise CredentialsRejected(missing_permission_message(permission))
        return response

    def find(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """One resource's document, or None when Kajabi does not know it (404)."""
        response = self.request("GET", path, params=params)
        return None if response.status_code == 404 else self._document(path, response)

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._document(path, self.request("GET", path, params=params))

    @staticmethod
    def _document(path: str, response: requests.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            log.warning("kajabi GET %s answered %s: %s", path, response.status_code, _error_detail(response))
            raise PlatformError(f"Kajabi answered HTTP {response.status_code} to a request CourseSignal makes.")
        try:
            document = response.json()
        except ValueError:
            raise PlatformError("Kajabi answered with something that is not JSON; try again later.") from None
        if not isinstance(document, dict):
            raise PlatformError("Kajabi answered with an unexpected document; try again later.")
        return document

    def pages(self, path: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every page of a list, following `links.next` (which keeps the filters) to the end."""
        yield from self._following(self.get(path, {**params, "page[size]": str(self._page_size)}))

    def pages_from(self, url: str) -> Iterator[dict[str, Any]]:
        """The pages of a list from a `links.next` URL a previous read stopped at, to the end."""
        yield from self._following(self.get(url))

    def owns(self, url: str) -> bool:
        """Whether `url` is on this API (a stored next-page URL is followed only then, with our token)."""
        return url.startswith(f"{self._api}/")

    def _following(self, document: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            yield document
            next_url = (document.get("links") or {}).get("next")
            if not next_url:
                return
            document = self.get(next_url)
