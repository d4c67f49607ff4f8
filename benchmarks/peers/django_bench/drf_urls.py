"""Django REST framework: an ``APIView`` with a form parser, the key checked in an
authentication class, the answer through a serializer."""

from typing import Any

from django.urls import path
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from benchmarks.peers import common
from benchmarks.peers.common import UserFilter


class FormKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if not common.check_key(request.data.get("authorisation", "")):
            raise exceptions.AuthenticationFailed("unknown, revoked or wrong key")
        return (None, None)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="api"'  # 401, not 403, for a wrong key


class ListUsersSerializer(serializers.Serializer):  # type: ignore[type-arg]
    usernames = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()

    def to_internal_value(self, data: Any) -> Any:
        values = super().to_internal_value({"usernames": data.getlist("usernames"), "active": data.get("active")})
        name_gt, name_lt = data.get("filter.name_gt"), data.get("filter.name_lt")
        if name_gt is None or name_lt is None:
            raise serializers.ValidationError({"filter": "filter.name_gt and filter.name_lt are required"})
        values["filter"] = UserFilter(name_gt, name_lt)
        return values


class UserSerializer(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField()
    active = serializers.BooleanField()


class ListUsers(APIView):
    parser_classes = [FormParser]
    authentication_classes = [FormKeyAuthentication]

    def post(self, request: Request) -> Response:
        form = ListUsersSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        found = common.list_users(form.validated_data["filter"], form.validated_data["usernames"],
                                  form.validated_data["active"])
        return Response(UserSerializer(found, many=True).data)


urlpatterns = [path("api/home/list_users", ListUsers.as_view())]
