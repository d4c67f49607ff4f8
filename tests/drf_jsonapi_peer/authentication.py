"""The peer's token check, in a module of its own: DRF imports its authentication classes while
``rest_framework.views`` loads, so this must not import views."""

import hmac

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed


class PeerUser:
    is_authenticated = True
    is_active = True


class BearerToken(BaseAuthentication):
    """``Authorization: Bearer <DRF_PEER_TOKEN>``, else 401."""

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.PEER_TOKEN.encode()):
            raise AuthenticationFailed("a valid bearer token is required")
        return PeerUser(), token

    def authenticate_header(self, request):  # type: ignore[no-untyped-def]
        return 'Bearer realm="drf-peer"'
