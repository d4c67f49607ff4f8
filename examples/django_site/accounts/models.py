from django.contrib.auth.models import AbstractUser

from interlink.django import ApiModel


class User(ApiModel, AbstractUser):
    """The site's users: sent over the wire as their api_id, ``u-…``."""

    api_id_prefix = "u"
