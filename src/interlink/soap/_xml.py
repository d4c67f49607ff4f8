"""Reading replies safely, writing user input safely: pure functions on bytes and strings.

Replies are parsed with lxml told to resolve no entity, load no DTD, touch no network and
keep libxml2's depth and size limits (``huge_tree`` off); a reply that still carries a
DOCTYPE is refused outright, so an XXE or billion-laughs reply never reaches the caller's
code. Whatever goes wrong is a :class:`~interlink.soap.SoapReplyError`, never an lxml error.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from interlink.soap._errors import SoapReplyError

__all__ = ["MAX_REPLY_BYTES", "parse_reply", "strip_illegal_xml_chars", "check_reply_tree"]

#: Replies larger than this are refused (a service record may raise it: ``max_reply_bytes``).
MAX_REPLY_BYTES = 10 * 1024 * 1024

# The characters XML 1.0 allows (https://www.w3.org/TR/xml/#charsets); the rest is removed.
_ILLEGAL_XML_CHARS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def strip_illegal_xml_chars(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _ILLEGAL_XML_CHARS.sub("", value)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
    )


def check_reply_tree(root: Any) -> None:
    """Refuse a parsed document that declares a DOCTYPE or entities."""
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise SoapReplyError("the reply declares a DTD; refused (no DTDs or entities in SOAP replies)")


def parse_reply(content: bytes, *, max_bytes: int = MAX_REPLY_BYTES) -> Any:
    """The root element of ``content``, or :class:`SoapReplyError` saying why not."""
    if not isinstance(content, bytes):
        raise SoapReplyError(f"a reply is bytes, not {type(content).__name__}")
    if len(content) > max_bytes:
        raise SoapReplyError(f"the reply is {len(content)} bytes, over the limit of {max_bytes}")
    if not content.strip():
        raise SoapReplyError("the reply is empty")
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        raise SoapReplyError(f"the reply is not well-formed XML: {exc}") from None
    except (ValueError, etree.LxmlError) as exc:
        raise SoapReplyError(f"the reply cannot be read as XML: {exc}") from None
    if root is None:
        raise SoapReplyError("the reply has no root element")
    check_reply_tree(root)
    return root
