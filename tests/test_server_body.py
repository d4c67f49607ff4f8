"""The server's form-body splitter is a faster parse_qsl: it must agree with it, pair for pair."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interlink.errors import BadArguments
from interlink.server._body import MAX_FIELDS, form_pairs

PIECES = st.sampled_from(["a", "b.0", "=", "&", "+", "%", "%2", "%20", "%zz", "%C3%A9", "%ff", "é", " ", "&&", ";", ""])
BODIES = st.one_of(
    st.lists(PIECES, max_size=12).map(lambda parts: "".join(parts).encode()),
    st.binary(max_size=40),
)


def reference(body: bytes) -> list[tuple[str, str]] | str:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        return "utf-8"


@settings(max_examples=3000, deadline=None)
@given(BODIES)
def test_form_pairs_agrees_with_parse_qsl(body: bytes) -> None:
    expected = reference(body)
    if expected == "utf-8":
        with pytest.raises(BadArguments, match="UTF-8"):
            form_pairs(body)
    else:
        assert form_pairs(body) == expected


def test_field_limit_matches_parse_qsl() -> None:
    assert len(form_pairs(b"&".join([b"a=1"] * MAX_FIELDS))) == MAX_FIELDS
    with pytest.raises(BadArguments, match="more than"):
        form_pairs(b"&".join([b"a=1"] * (MAX_FIELDS + 1)))
