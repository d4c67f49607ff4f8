from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from interlink.django import api_urls

from django_project.api import api


@login_required
def page(request):
    return render(request, "page.html", {"user": request.user})


urlpatterns = [
    path("api/", api_urls(api)),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("page/", page, name="page"),
    path("admin/", admin.site.urls),
]
