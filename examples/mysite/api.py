"""The site's ApiServer and database; `interlink serve examples.mysite.api:api` serves it."""

import os

from interlink import ApiServer
from interlink.store import Database

DATA_DIR = os.environ.get("MYSITE_DATA_DIR", "var")
os.makedirs(DATA_DIR, exist_ok=True)
database = Database(os.environ.get("INTERLINK_DATABASE_URL") or f"sqlite:///{DATA_DIR}/mysite.db")
api = ApiServer(database=database, title="mysite", version="0.1.0")

from examples.mysite import home  # noqa: E402,F401 - registers the home.* methods
from examples.mysite import pages  # noqa: E402,F401 - login, users, editable list, upload pages
