"""Reading a trace context from the raw header pairs a shell hands the pipeline."""

from __future__ import annotations

from opentelemetry.propagators.textmap import Getter

__all__ = ["RAW_HEADERS"]

Headers = list[tuple[bytes, bytes]]


class _RawHeaders(Getter[Headers]):
    """ASGI's header pairs: lower-case byte names, byte values."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        found = [value.decode("latin-1") for header, value in carrier if header == name]
        return found or None

    def keys(self, carrier: Headers) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


RAW_HEADERS = _RawHeaders()
