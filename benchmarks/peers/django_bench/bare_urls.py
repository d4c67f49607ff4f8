"""The ceiling of Django itself: a function view that parses the form and checks the key by
hand, with nothing between the request and the answer but Django."""

import dataclasses
import json

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from benchmarks.peers import common
from benchmarks.peers.common import UserFilter


@csrf_exempt
def list_users(request: HttpRequest) -> HttpResponse:
    form = request.POST
    if not common.check_key(form.get("authorisation", "")):
        return HttpResponse(b'{"error":{"code":"not_authorised"}}', status=401, content_type="application/json")
    found = common.list_users(UserFilter(form["filter.name_gt"], form["filter.name_lt"]), form.getlist("usernames"),
                              form.get("active") == "true")
    return HttpResponse(json.dumps([dataclasses.asdict(u) for u in found]), content_type="application/json")


urlpatterns = [path("api/home/list_users", list_users)]
