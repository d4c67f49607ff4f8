"""The project's users and notes: any model mixing in ApiModel travels as its api_id."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models

import interlink
from interlink.django import ApiModel


# interlink.User too, so that methods written for any interlink server (`user: interlink.User`)
# take this project's users; methods that name this class need only ApiModel.
class User(ApiModel, interlink.User, AbstractUser):
    api_id_prefix = "u"


class Note(ApiModel):
    api_id_prefix = "n"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    text = models.CharField(max_length=200)
