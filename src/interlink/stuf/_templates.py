"""StUF messages from Jinja2 XML templates, autoescaped, user input made XML-safe.

Every ``{{ value }}`` passes through ``finalize`` (characters XML cannot carry are removed)
and then autoescaping (``<``, ``&``, quotes), so a name or a free-text answer can never
break the envelope or inject elements. Templates extend ``stuf/soap_envelope.xml`` and call
``render_stuurgegevens(stuurgegevens, referentienummer)`` as Open Forms' ``{% render_stuurgegevens %}``::

    {% extends "stuf/soap_envelope.xml" %}
    {% block body %}
    <BG:npsLv01 xmlns:BG="http://www.egem.nl/StUF/sector/bg/0310">
      <BG:stuurgegevens>
        <StUF:berichtcode>Lv01</StUF:berichtcode>
        {{ render_stuurgegevens(stuurgegevens, referentienummer) }}
        <StUF:entiteittype>NPS</StUF:entiteittype>
      </BG:stuurgegevens>
      ...
    {% endblock %}
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    pass_context,
)
from markupsafe import Markup

from interlink.soap._xml import strip_illegal_xml_chars
from interlink.stuf._stuf import StuurGegevens

__all__ = ["template_environment", "tijdstip_bericht"]


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return Markup(strip_illegal_xml_chars(str(value)))
    if isinstance(value, str):
        return strip_illegal_xml_chars(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return strip_illegal_xml_chars(str(value))


def tijdstip_bericht(now: dt.datetime | None = None) -> str:
    """StUF's ``tijdstipBericht``: ``YYYYMMDDhhmmss`` (UTC here; StUF gives no zone)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y%m%d%H%M%S")


@pass_context
def _render_stuurgegevens(context: Any, stuurgegevens: StuurGegevens, referentienummer: Any) -> Markup:
    template = context.environment.get_template("stuf/includes/stuurgegevens.xml")
    return Markup(template.render(
        zender=stuurgegevens.zender, ontvanger=stuurgegevens.ontvanger,
        referentienummer=referentienummer, tijdstip_bericht=context.get("tijdstip_bericht") or tijdstip_bericht(),
    ))


def template_environment(templates: Any = None) -> Environment:
    """A Jinja2 environment finding the user's templates (a directory, a list of them, or a
    Jinja2 loader) before interlink's own ``stuf/...`` ones."""
    loaders: list[BaseLoader] = []
    if isinstance(templates, BaseLoader):
        loaders.append(templates)
    elif isinstance(templates, (str, os.PathLike)):
        loaders.append(FileSystemLoader(templates))
    elif templates:
        loaders.append(FileSystemLoader(list(templates)))
    loaders.append(PackageLoader("interlink.stuf", "templates"))
    env = Environment(loader=ChoiceLoader(loaders), autoescape=True, finalize=_finalize,
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.globals["render_stuurgegevens"] = _render_stuurgegevens
    return env
