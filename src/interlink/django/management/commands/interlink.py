"""``python manage.py interlink roles create|list`` and ``keys create|list|revoke``: the
``interlink`` command's roles and keys, on the project's database and users. Secrets are printed
once, when a key is made, and never listed."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction
from django.utils import timezone

from interlink.django.models import Key, Role
from interlink.settings import parse_duration

def _duration(text: str, option: str) -> dt.timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` (a bare number is seconds), as the interlink command."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise CommandError(f"{option}: {error}") from None


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def _find_user(ref: str) -> Any:
    """A user by username or api_id (``u-…``, when the user model is an ApiModel)."""
    model = get_user_model()
    user = model._default_manager.filter(**{model.USERNAME_FIELD: ref}).first()
    if user is None and any(f.name == "api_id" for f in model._meta.get_fields()):
        user = model._default_manager.filter(api_id=ref).first()
    if user is None:
        raise CommandError(f"no user {ref!r}")
    return user


def _find_role(ref: str) -> Role:
    """A role by api_id (``r-…``), by name when exactly one role has it, or as ``user/role``."""
    role = Role.objects.select_related("user").filter(api_id=ref).first()
    if role is not None:
        return role
    username, slash, name = ref.rpartition("/")
    roles = Role.objects.select_related("user").filter(name=name if slash else ref)
    if slash:
        roles = roles.filter(**{f"user__{get_user_model().USERNAME_FIELD}": username})
    found = list(roles[:10])
    if not found:
        raise CommandError(f"no role {ref!r}")
    if len(found) > 1:
        owners = ", ".join(sorted(f"{r.user.get_username()}/{r.name} ({r.api_id})" for r in found))
        raise CommandError(f"role name {ref!r} is ambiguous: {owners}; use the api_id or user/role")
    return found[0]


class Command(BaseCommand):
    help = "Roles and keys of interlink.django: roles create|list, keys create|list|revoke."

    def add_arguments(self, parser: CommandParser) -> None:
        groups = parser.add_subparsers(dest="group", required=True, parser_class=type(parser),
                                       title="groups")
        roles = groups.add_parser("roles", help="Roles: what a key acts as. Names are unique per user.",
                                  called_from_command_line=parser.called_from_command_line)
        role_commands = roles.add_subparsers(dest="command", required=True)
        create = role_commands.add_parser("create", help="Create role NAME for a user; prints the role's api_id.")
        create.add_argument("--user", dest="username", required=True, help="the user (username or u-… api_id)")
        create.add_argument("--permission", dest="permissions", action="append", default=[], metavar="NAME",
                            help="a permission the role carries (repeat for more), e.g. users.read")
        create.add_argument("name")
        listing = role_commands.add_parser("list", help="List roles.")
        listing.add_argument("--user", dest="username", default=None, help="only this user's roles")

        keys = groups.add_parser("keys", help="Keys: a key id and a secret that authenticate as one role.",
                                 called_from_command_line=parser.called_from_command_line)
        key_commands = keys.add_subparsers(dest="command", required=True)
        create = key_commands.add_parser(
            "create", help="Create a key for a role; prints its id and secret (the secret only this once).")
        create.add_argument("--role", dest="role_ref", required=True,
                            help="r-… api_id, role name if unambiguous, or user/role")
        create.add_argument("--expires-in", default=None, metavar="DURATION",
                            help="e.g. 90d, 12h: the key stops working then")
        create.add_argument("--allow-network", dest="networks", action="append", default=[], metavar="CIDR",
                            help="only accept the key from this network (repeat for more), e.g. 10.1.0.0/16")
        listing = key_commands.add_parser("list", help="List keys (never their secrets).")
        listing.add_argument("--role", dest="role_ref", default=None, help="only this role's keys")
        revoke = key_commands.add_parser(
            "revoke", help="Revoke a key: servers stop accepting it within their cache time (2 s).")
        revoke.add_argument("key_id")

    def handle(self, *args: Any, group: str, command: str, **options: Any) -> None:
        getattr(self, f"{group}_{command}")(**options)

    # -- roles ----------------------------------------------------------------------------

    def roles_create(self, username: str, name: str, permissions: list[str], **options: Any) -> None:
        user = _find_user(username)
        name = name.strip()
        if not name:
            raise CommandError("a role name may not be empty")
        try:
            with transaction.atomic():
                role = Role.objects.create(user=user, name=name,
                                           permissions=sorted({p.strip() for p in permissions if p.strip()}))
        except IntegrityError:
            raise CommandError(f"user {user.get_username()!r} already has a role {name!r}") from None
        self.stdout.write(role.api_id)

    def roles_list(self, username: str | None, **options: Any) -> None:
        roles = Role.objects.select_related("user")
        if username is not None:
            roles = roles.filter(user=_find_user(username))
        self._table(["api_id", "user", "name", "default", "created (UTC)"],
                    [(r.api_id, r.user.get_username(), r.name, "yes" if r.is_default else "", _when(r.created_at))
                     for r in roles])

    # -- keys -----------------------------------------------------------------------------

    def keys_create(self, role_ref: str, expires_in: str | None, networks: list[str], **options: Any) -> None:
        try:
            allowed = [str(ipaddress.ip_network(n, strict=False)) for n in networks] or None
        except ValueError as error:
            raise CommandError(f"--allow-network: {error}") from None
        lifetime = _duration(expires_in, "--expires-in") if expires_in is not None else None
        role = _find_role(role_ref)
        with transaction.atomic():
            key = Key(role=role, allowed_networks=allowed,
                      expires_at=timezone.now() + lifetime if lifetime is not None else None)
            secret = key.create_secret()
            key.save()
        # Printed after the commit: a secret is never shown for a key that was not saved.
        self.stdout.write(f"access_key_id = {key.key_id}")
        self.stdout.write(f"access_key_secret = {secret.decode('ascii')}")
        self.stderr.write(
            f"Key for role {role.user.get_username()}/{role.name}. Store the secret now: only its hash is "
            "kept, it cannot be shown again. Send it as authorisation=KEYID:SECRET, as HTTP Basic "
            "KEYID:SECRET (curl -u KEYID:SECRET), or as the lines above in a credentials profile."
        )

    def keys_list(self, role_ref: str | None, **options: Any) -> None:
        keys = Key.objects.select_related("role__user")
        if role_ref is not None:
            keys = keys.filter(role=_find_role(role_ref))
        now = timezone.now()
        rows = []
        for key in keys:
            status = key.status(now)
            if status == "revoked":
                status = f"revoked {_when(key.revoked_at)}"
            rows.append((key.key_id, f"{key.role.user.get_username()}/{key.role.name}", key.role.api_id,
                         _when(key.created_at), _when(key.expires_at), ",".join(key.allowed_networks or []), status))
        self._table(["key id", "role", "role api_id", "created (UTC)", "expires (UTC)", "networks", "status"], rows)

    def keys_revoke(self, key_id: str, **options: Any) -> None:
        key = Key.objects.filter(key_id=key_id).first()
        if key is None:
            raise CommandError(f"no key {key_id!r}")
        if key.revoked_at is not None:
            self.stdout.write(f"{key_id} was already revoked at {_when(key.revoked_at)}")
            return
        key.revoke()
        self.stdout.write(f"revoked {key_id}")

    def _table(self, header: list[str], rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
        for row in [tuple(header), *rows]:
            self.stdout.write("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
