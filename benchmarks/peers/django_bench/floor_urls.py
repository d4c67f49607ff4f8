"""Django's floor: a view that sends the expected answer without reading the request or
checking anything — what gunicorn, Django's request handling and the middleware cost alone."""

import json

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from benchmarks.peers import common

ANSWER = json.dumps(common.expected_answer()).encode()


@csrf_exempt
def list_users(request: HttpRequest) -> HttpResponse:
    return HttpResponse(ANSWER, content_type="application/json")


urlpatterns = [path("api/home/list_users", list_users)]
