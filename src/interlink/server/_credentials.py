"""A caller's credentials, read from a request: a pure step with no authenticator and no I/O.

The forms a caller may use (docs/security.md):

- the ``authorisation`` field ``keyid:secret`` (POST field, JSON member or query pair);
- HTTP Basic ``user:keyid:secret`` (a key of that user), ``keyid:secret`` (the key id as user
  name) or ``user:password`` (the user's default role);
- ``Authorization: Bearer keyid:secret`` (what Swagger UI's Authorize dialog sends).

An empty ``authorisation`` field is the same as none: HTML forms and Swagger UI send empty
optional fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interlink.credentials import KEY_ID_PATTERN, parse_authorisation, parse_basic_header, split_key_password
from interlink.errors import BadArguments, NotAuthorised
from interlink.wire import FormValue

__all__ = [
    "AUTHORISATION",
    "Credentials",
    "KeyCredentials",
    "PasswordCredentials",
    "authorization_header",
    "pop_authorisation",
    "read_credentials",
]

AUTHORISATION = "authorisation"


@dataclass(frozen=True, slots=True)
class KeyCredentials:
    key_id: str
    secret: str
    username: str | None = None  # Basic ``user:keyid:secret``: the key must be this user's

    @property
    def identity(self) -> str:
        return self.key_id


@dataclass(frozen=True, slots=True)
class PasswordCredentials:
    username: str
    password: str

    @property
    def identity(self) -> str:
        return self.username


Credentials = KeyCredentials | PasswordCredentials


def authorization_header(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def read_credentials(authorisation: str | None, header: str | None) -> Credentials | None:
    """The credentials a request carries (the ``authorisation`` field wins over the header);
    ``None`` for none; malformed ones raise NotAuthorised without echoing the secret."""
    if authorisation is not None:
        return KeyCredentials(*parse_authorisation(authorisation))
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        username, password = parse_basic_header(header)
        pair = split_key_password(password)
        if pair is not None:
            return KeyCredentials(pair[0], pair[1], username=username)
        if KEY_ID_PATTERN.fullmatch(username):
            if not password:
                raise NotAuthorised(f"key {username} has no secret: send keyid:secret as user:password")
            return KeyCredentials(username, password)
        return PasswordCredentials(username, password)
    if scheme == "bearer":
        try:
            return KeyCredentials(*parse_authorisation(value))
        except NotAuthorised:
            raise NotAuthorised("a Bearer token must be a key, 'keyid:secret'") from None
    raise NotAuthorised(f"unsupported Authorization scheme {scheme[:20]!r}: use Basic or Bearer")


def _authorisation_value(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadArguments("authorisation must be text keyid:secret", field=AUTHORISATION)
    return value


def pop_authorisation(pairs: list[tuple[str, FormValue]]) -> str | None:
    """Take every ``authorisation`` pair out of ``pairs``; at most one may be non-empty."""
    found: str | None = None
    index = 0
    while index < len(pairs):
        name, value = pairs[index]
        if name == AUTHORISATION:
            text = _authorisation_value(value)
            if text is not None:
                if found is not None:
                    raise BadArguments("authorisation sent more than once", field=AUTHORISATION)
                found = text
            del pairs[index]
        else:
            index += 1
    return found


def pop_json_authorisation(arguments: dict[str, Any] | None) -> str | None:
    if isinstance(arguments, dict) and AUTHORISATION in arguments:
        return _authorisation_value(arguments.pop(AUTHORISATION))
    return None
