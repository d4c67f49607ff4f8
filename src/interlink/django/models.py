"""Roles and keys as Django models, and ``ApiModel``: a model that travels as its ``api_id``.

The same rules as interlink's store (``interlink.store``): rows are named from outside by a
random, prefixed ``api_id`` (``r-…``; a key's id ``k-…`` is its api_id), never by the integer
primary key; a key's secret is kept only as its hash (``interlink.credentials``: SHA-256, see
there why), and is shown once, when it is made.

    role = Role.objects.create(user=joe, name="everyday")
    key = Key.objects.create(role=role)
    secret = key.create_secret()   # bytes, shown once: key.api_id is the access_key_id
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any, ClassVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from interlink import identity
from interlink.credentials import hash_key_secret, new_api_id, new_key_id, new_key_secret
from interlink.wire import Model

__all__ = ["DEFAULT_ROLE_NAME", "ApiIdField", "ApiModel", "Key", "Role", "WireModel"]

DEFAULT_ROLE_NAME = "default"


class ApiIdField(models.CharField):  # type: ignore[type-arg]
    """A model's public id, ``<api_id_prefix>-<16 hex digits>``, made when the row is first
    inserted (``save()`` and ``bulk_create()`` alike) if it has none yet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if not value:
            prefix = getattr(type(model_instance), "api_id_prefix", None) or type(model_instance).__name__.lower()
            value = new_api_id(prefix)
            setattr(model_instance, self.attname, value)
        return value


class WireModel(Model):
    """``interlink.wire.Model`` by a name of this module: the migrations of a project's models
    that mix in ApiModel record it among their bases, so it stays where it is."""


class ApiModel(models.Model, WireModel):
    """Mix into a model to send it over the wire as its ``api_id``, as interlink's server does
    with its own models: a method argument annotated with the model is loaded by ``api_id``,
    and a result holding one is sent as its ``api_id``.

        class User(ApiModel, AbstractUser):
            api_id_prefix = "u"
    """

    api_id_prefix: ClassVar[str | None] = None

    api_id = ApiIdField()

    class Meta:
        abstract = True


class Role(models.Model, identity.Role):
    """What a caller acts as; a key authenticates as exactly one role. A user's default role
    (``Role.default_for(user)``) may do everything, as the user's password may; any other role
    what its ``permissions`` list."""

    api_id_prefix: ClassVar[str | None] = "r"

    api_id = ApiIdField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interlink_roles")
    name = models.CharField(max_length=100)
    permissions = models.JSONField(default=list, blank=True)
    is_default = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="interlink_role_name_per_user"),
            models.UniqueConstraint(fields=["user"], condition=models.Q(is_default=True),
                                    name="interlink_one_default_role_per_user"),
        ]
        ordering = ["user_id", "name"]

    @classmethod
    def default_for(cls, user: Any) -> Role:
        """``user``'s default role, made on first need (the role of the user's password and of
        pages posted with the user's session)."""
        role = cls.objects.select_related("user").filter(user=user, is_default=True).first()
        if role is not None:
            return role
        try:
            with transaction.atomic():
                return cls.objects.create(user=user, name=DEFAULT_ROLE_NAME, is_default=True)
        except IntegrityError:  # made meanwhile by another request, or the name is taken
            role = cls.objects.select_related("user").filter(user=user, is_default=True).first()
            if role is None:
                raise
            return role

    def has(self, permission: str) -> bool:
        if self.is_default:
            return True
        return permission in (self.permissions or ())

    def __str__(self) -> str:
        return f"{self.user}/{self.name}"


class Key(models.Model, Model):
    """A credential for one role: a public ``key_id`` and a secret kept only as a hash."""

    api_id_prefix: ClassVar[str | None] = "k"

    key_id = models.CharField(max_length=40, unique=True, default=new_key_id, editable=False)
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="keys")
    # None until create_secret() runs: such a key never authenticates.
    secret_hash = models.CharField(max_length=128, null=True, default=None, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, default=None)
    revoked_at = models.DateTimeField(null=True, blank=True, default=None)
    # CIDR networks the key may be used from; empty = anywhere.
    allowed_networks = models.JSONField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["id"]

    @property
    def api_id(self) -> str:  # type: ignore[override]
        """The key id: ``access_key_id`` of a credentials profile."""
        return self.key_id

    def create_secret(self) -> bytes:
        """Make a new secret, keep only its hash, and return the secret: the one time it is
        seen. A saved key is saved at once; calling it again replaces the secret."""
        secret = new_key_secret()
        self.secret_hash = hash_key_secret(secret)
        if self.pk is not None:
            type(self).objects.filter(pk=self.pk).update(secret_hash=self.secret_hash)
        return secret.encode("ascii")

    def revoke(self) -> None:
        """Stop the key working (servers refuse it within their cache time, 2 s)."""
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            if self.pk is not None:
                type(self).objects.filter(pk=self.pk).update(revoked_at=self.revoked_at)

    def usable_at(self, when: dt.datetime) -> bool:
        """Not revoked, not expired, and has a secret."""
        if self.secret_hash is None or self.revoked_at is not None:
            return False
        return self.expires_at is None or when < self.expires_at

    def status(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.secret_hash is None:
            return "no secret"
        return "expired" if not self.usable_at(now) else "active"

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
        if not self.allowed_networks:
            return None
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks)

    def __str__(self) -> str:
        return self.key_id
