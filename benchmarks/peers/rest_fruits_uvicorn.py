"""The same ``Fruits`` resource as an interlink typed method under uvicorn (for comparison):
``POST /api/fruits/add`` with the same JSON body, the same answer."""

from __future__ import annotations

from typing import Any

from interlink import ApiServer
from interlink.errors import BadArguments

ORIGINS = {"USA": "United States of America", "MEX": "Mexico"}

api = ApiServer(docs=False)
fruits = api.module("fruits")


@fruits.method
async def add(name: str, supply: dict[str, Any], country_code: str, other_names: list[Any] = []) -> dict[str, Any]:  # noqa: B006
    if country_code not in ORIGINS:
        raise BadArguments("Invalid origin", field="country_code")
    return {"name": name, "other_names": other_names, "supply": supply, "origin": ORIGINS[country_code]}


app = api
