"""zgw-consumers' ``ServiceFactory`` / ``Service.objects.create`` / constants for the port.

zgw-consumers' tests build Django ``Service`` rows with its field names. Here they become
records that ``interlink.http.build_client`` reads (it reads records duck-typed; interlink's
own ``interlink.store.Service`` is one such record): the zgw-consumers field names are kept as
attributes and interlink's names are derived from them. No database is involved: neither
``build_client`` nor the tests query one.
"""

from __future__ import annotations

import itertools
from typing import Any

from . import fake_network


class AuthTypes:
    no_auth = "no_auth"
    api_key = "api_key"
    zgw = "zgw"
    oauth2_client_credentials = "oauth2_client_credentials"


class APITypes:
    orc = "orc"


_numbers = itertools.count(1)


class ZGWServiceRecord:
    """A zgw-consumers ``Service`` as a record: its defaults (``timeout=10``,
    ``jwt_valid_for=43200``) and field names."""

    def __init__(self, **fields: Any) -> None:
        number = next(_numbers)
        self.label = f"API-{number}"
        self.slug = f"api-{number}"
        self.api_root = f"{fake_network.ROOT}/api-{number}/"
        self.api_type = APITypes.orc
        self.auth_type = AuthTypes.no_auth
        self.client_id = ""
        self.secret = ""
        self.header_key = ""
        self.header_value = ""
        self.oauth2_token_url = ""
        self.oauth2_scope = ""
        self.jwt_valid_for = 12 * 60 * 60
        self.user_id = ""
        self.user_representation = ""
        self.timeout = 10
        self.api_connection_check_path = ""
        for name, value in fields.items():
            if not hasattr(self, name):
                raise TypeError(f"zgw-consumers' Service has no field {name!r} in this port")
            setattr(self, name, value)
        if not self.api_root.endswith("/"):  # Service.save() normalises it
            self.api_root += "/"

    # interlink's names, read by ServiceConfigAdapter
    @property
    def base_url(self) -> str:
        return self.api_root

    def get_secret(self) -> str:
        return self.header_value if self.auth_type == AuthTypes.api_key else self.secret

    @property
    def api_key_header(self) -> str:
        return self.header_key

    @property
    def token_url(self) -> str:
        return self.oauth2_token_url

    @property
    def scope(self) -> str:
        return self.oauth2_scope

    @property
    def jwt_lifetime(self) -> int:
        return self.jwt_valid_for


class ServiceFactory:
    @staticmethod
    def build(**fields: Any) -> ZGWServiceRecord:
        return ZGWServiceRecord(**fields)


class _Objects:
    @staticmethod
    def create(**fields: Any) -> ZGWServiceRecord:
        return ZGWServiceRecord(**fields)


class Service:
    objects = _Objects()


def ZGWAuth(service: Any) -> Any:  # noqa: N802 - zgw-consumers' class name
    """zgw-consumers' ``ZGWAuth(service)``: the auth a ``zgw`` record gets (``JWTBearerAuth``)."""
    from interlink.http import ServiceConfigAdapter

    return ServiceConfigAdapter(service).auth()
