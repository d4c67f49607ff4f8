"""StUF (template-based SOAP/XML) on interlink's configured clients.

    from interlink.stuf import StUFClient

    with StUFClient(service, templates="myapp/templates") as client:
        reply = client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "111222333"},
                                         endpoint_type="beantwoord_vraag")
        reply.body      # the answer element; a Fault or Fo01/Fo02/Fo03 raised StUFFault instead

Needs the ``soap`` extra: ``pip install 'interlink[soap]'`` (lxml, jinja2, zeep).
"""

try:
    import jinja2  # noqa: F401
    import lxml.etree  # noqa: F401
    import zeep  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.stuf needs the soap extra ({error}): pip install 'interlink[soap]'") from error

from interlink.stuf._client import (
    SOAP_VERSION_CONTENT_TYPES,
    AsyncStUFClient,
    StUFClient,
    StUFReply,
)
from interlink.stuf._errors import StUFFault, stuf_fault_in
from interlink.stuf._stuf import (
    STUF_NS,
    EndpointType,
    InvolvedParty,
    StufOptions,
    StuurGegevens,
    stuf_options,
)
from interlink.stuf._templates import template_environment, tijdstip_bericht

__all__ = [
    "StUFClient", "AsyncStUFClient", "StUFReply", "StUFFault", "stuf_fault_in",
    "EndpointType", "InvolvedParty", "StuurGegevens", "StufOptions", "stuf_options", "STUF_NS",
    "SOAP_VERSION_CONTENT_TYPES", "template_environment", "tijdstip_bericht",
]
