"""``python manage.py interlink roles …`` and ``keys …``: the interlink command's roles and keys
on a Django project, and the keys they make, used and revoked against the project's API."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from django_support import django_ready, new_user

django_ready()

from django.core.management import CommandError, call_command  # noqa: E402
from django.test import Client  # noqa: E402

from interlink.django import Key, Role  # noqa: E402

TESTS = Path(__file__).resolve().parent


def manage(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("interlink", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_roles_create_prints_the_api_id_and_keeps_permissions() -> None:
    user = new_user()
    out, _ = manage("roles", "create", "--user", user.username, "--permission", "reports.read",
                    "--permission", "reports.read", "everyday")
    role = Role.objects.get(api_id=out.strip())
    assert role.user == user and role.name == "everyday" and role.permissions == ["reports.read"]
    with pytest.raises(CommandError, match="already has a role 'everyday'"):
        manage("roles", "create", "--user", user.username, "everyday")
    with pytest.raises(CommandError, match="no user"):
        manage("roles", "create", "--user", f"nobody-{uuid.uuid4().hex}", "everyday")


def test_keys_create_prints_the_secret_once_and_it_works() -> None:
    user = new_user()
    role_name = f"role-{uuid.uuid4().hex[:8]}"
    manage("roles", "create", "--user", user.username, role_name)
    out, err = manage("keys", "create", "--role", role_name)
    found = re.fullmatch(r"access_key_id = (k-[0-9a-f]{16})\naccess_key_secret = ([A-Za-z0-9]{40})\n", out)
    assert found is not None, out
    key_id, secret = found.groups()
    assert "Store the secret now" in err and secret not in err
    key = Key.objects.get(key_id=key_id)
    assert key.role.name == role_name and secret not in (key.secret_hash or "")
    response = Client().post("/api/home/whoami", {"authorisation": f"{key_id}:{secret}"})
    assert response.status_code == 200 and response.json()["role"] == role_name
    listing, _ = manage("keys", "list", "--role", f"{user.username}/{role_name}")
    assert key_id in listing and "active" in listing and secret not in listing


def test_keys_create_with_expiry_and_networks() -> None:
    user = new_user()
    out, _ = manage("keys", "create", "--role", Role.default_for(user).api_id, "--expires-in", "12h",
                    "--allow-network", "10.1.2.3/16")
    key = Key.objects.get(key_id=out.split()[2])
    assert key.allowed_networks == ["10.1.0.0/16"] and key.expires_at is not None
    with pytest.raises(CommandError, match="--expires-in"):
        manage("keys", "create", "--role", Role.default_for(user).api_id, "--expires-in", "soon")
    with pytest.raises(CommandError, match="--allow-network"):
        manage("keys", "create", "--role", Role.default_for(user).api_id, "--allow-network", "nowhere")


def test_keys_revoke() -> None:
    user = new_user()
    out, _ = manage("keys", "create", "--role", Role.default_for(user).api_id)
    key_id = out.split()[2]
    assert manage("keys", "revoke", key_id)[0] == f"revoked {key_id}\n"
    assert Key.objects.get(key_id=key_id).revoked_at is not None
    assert "was already revoked" in manage("keys", "revoke", key_id)[0]
    with pytest.raises(CommandError, match="no key"):
        manage("keys", "revoke", "k-0000000000000000")


def test_an_ambiguous_role_name_says_what_to_use() -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    for user in (new_user(), new_user()):
        Role.objects.create(user=user, name=name)
    with pytest.raises(CommandError, match="ambiguous.*use the api_id or user/role"):
        manage("keys", "create", "--role", name)


def test_roles_list() -> None:
    user = new_user()
    manage("roles", "create", "--user", user.username, "listed")
    out, _ = manage("roles", "list", "--user", user.username)
    assert out.splitlines()[0].split() == ["api_id", "user", "name", "default", "created", "(UTC)"]
    assert "listed" in out and user.username in out


def test_a_mistake_on_the_command_line_is_one_line() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "django_project.settings"}
    run = subprocess.run([sys.executable, "-m", "django_project.manage", "interlink", "keys", "create", "--role",
                          f"no-such-role-{uuid.uuid4().hex}"], cwd=TESTS, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and run.stderr.startswith("CommandError: no role"), run.stderr
    assert "Traceback" not in run.stderr
