"""`make run`: migrate, make a demo user/role/key on first start, print a working curl, serve."""

from __future__ import annotations

import configparser
import os
import shlex
import sys

import uvicorn

from interlink.store import create_key, create_role, create_user, find_key, find_user
from examples.mysite.api import DATA_DIR, api, database

CREDENTIALS = os.path.join(DATA_DIR, "credentials")


def demo_credentials() -> tuple[str, str]:
    """The demo key, kept in the client's credentials-file format (mode 0600) so reruns reuse it."""
    config = configparser.ConfigParser()
    config.read(CREDENTIALS)
    with database.session() as session:
        if config.has_section("default"):
            key_id = config["default"]["access_key_id"]
            try:
                key = find_key(session, key_id)
                if key.revoked_at is None:
                    return key_id, config["default"]["access_key_secret"]
            except LookupError:
                pass
        try:
            user = find_user(session, "demo")
        except LookupError:
            user = create_user(session, "demo")
            for name in ("alice", "bob", "carol", "joebloggs", "johndoe"):
                create_user(session, name)
        role = next((r for r in user.roles if r.name == "everyday"), None) or create_role(session, user, "everyday")
        key, secret = create_key(session, role)
        session.commit()
        key_id = key.key_id
    config["default"] = {"access_key_id": key_id, "access_key_secret": secret.decode()}
    fd = os.open(CREDENTIALS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        config.write(handle)
    return key_id, secret.decode()


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    database.migrate()
    key_id, secret = demo_credentials()
    base = f"http://{host}:{port}"
    data = f"filter.name_gt=a&filter.name_lt=k&authorisation={key_id}:{secret}"
    print(f"""
mysite is starting on {base}  (database: {database.url!r})

  Try it:
    curl -X POST -d {shlex.quote(data)} {base}/api/home/list_users

  API docs (Swagger UI):  {base}/docs
  OpenAPI document:       {base}/api/openapi.json
  Demo credentials file:  {CREDENTIALS}  (profile [default], for interlink.client.API)
""", flush=True)
    uvicorn.run(api, host=host, port=port, log_level=os.environ.get("LOG_LEVEL", "info"))


if __name__ == "__main__":
    sys.exit(main())
