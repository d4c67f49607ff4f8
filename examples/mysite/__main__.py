"""`make run`: check the port, migrate, make a demo user/role/key on first start, print a working
curl, serve.

``HOST`` and ``PORT`` (default 127.0.0.1:8000) choose the address: ``make run PORT=8001``. The
port is tried before anything is printed, so a taken port gets one line saying what to do
instead of a banner followed by uvicorn's "address already in use".
"""

from __future__ import annotations

import configparser
import errno
import os
import secrets
import shlex
import socket
import sys

import uvicorn

from examples.mysite.api import DATA_DIR, api, database
from interlink.store import create_key, create_role, create_user, find_key, find_user, hash_password, verify_password

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


def demo_password() -> str:
    """The demo user's login password: $MYSITE_DEMO_PASSWORD, else one made on first start and
    kept beside the demo key in the 0600 credentials file (the client's side; the database holds
    only its argon2id hash)."""
    config = configparser.ConfigParser()
    config.read(CREDENTIALS)
    password = os.environ.get("MYSITE_DEMO_PASSWORD") or config.get("site", "password", fallback=None)
    password = password or secrets.token_urlsafe(12)
    with database.session() as session:
        user = find_user(session, "demo")
        if not verify_password(password, user.password_hash):
            user.password_hash = hash_password(password)
    config["site"] = {"username": "demo", "password": password}
    fd = os.open(CREDENTIALS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        config.write(handle)
    return password


def port_problem(host: str, port: int) -> str | None:
    """Why uvicorn could not listen on host:port, or None when it can.

    Binds the way uvicorn does (SO_REUSEADDR, so a port in TIME_WAIT counts as free) and lets go.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"cannot use HOST={host}: {error.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (another `make run`?). "
                        f"Stop that server, or use another port: make run PORT={port + 1}")
            return f"cannot listen on {host}:{port}: {error.strerror}"
    return None


def main() -> int:
    host = os.environ.get("HOST") or "127.0.0.1"
    try:
        port = int(os.environ.get("PORT") or "8000")
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        print(f"mysite: PORT={os.environ.get('PORT')!r} is not a port number (1-65535)", file=sys.stderr)
        return 2
    problem = port_problem(host, port)
    if problem is not None:
        print(f"mysite: {problem}", file=sys.stderr)
        return 1
    database.migrate()
    key_id, secret = demo_credentials()
    password = demo_password()
    base = f"http://{host}:{port}"
    data = f"filter.name_gt=a&filter.name_lt=k&authorisation={key_id}:{secret}"
    print(f"""
mysite is starting on {base}  (database: {database.url!r})

  Try it:
    curl -X POST -d {shlex.quote(data)} {base}/api/home/list_users

  Site pages:             {base}/login  (user demo, password {password})
  API docs (Swagger UI):  {base}/docs
  OpenAPI document:       {base}/api/openapi.json
  Demo credentials file:  {CREDENTIALS}  (profile [default] holds the demo key, for
                          interlink.client.API(..., [{CREDENTIALS!r}]) and
                          interlink call --credentials {CREDENTIALS}; [site] is the login above)
  The same key with curl: -u {key_id}:SECRET  or  -u demo:{key_id}:SECRET
""", flush=True)
    # proxy_headers=False: ApiServer(trusted_proxies=...) decides whom X-Forwarded-For is taken from.
    uvicorn.run(api, host=host, port=port, log_level=os.environ.get("LOG_LEVEL", "info"), proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
