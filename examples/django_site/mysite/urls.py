from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import include, path

from interlink.django import api_urls

from mysite.api import api


@login_required
def home(request):
    """A page whose form calls an API method, with the user's session and Django's CSRF token."""
    return render(request, "describe.html")


urlpatterns = [
    path("api/", api_urls(api)),  # /api/home/describe_user, /api/openapi.json, /api/docs
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", home, name="home"),
]
