"""AsyncAPI: the same surface as API, awaited, against live interlink servers."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from interlink.client import AsyncAPI, AsyncSession, BadArguments, FileUpload, NotAuthorised, ServerError
from client_site import (  # noqa: F401  (fixtures)
    DEFAULT_KEY,
    USERS,
    UserFilter,
    make_site,
    spec_home,
    serving,
    site,
    unused_port,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # callasync makes asyncio tasks


async def test_spec_example_awaited(site, spec_home) -> None:
    async with AsyncAPI(site.root, ['~/.mywonderfulsite/config']) as api:
        site_description = await api.home.describe_site()
        assert site_description.name == "my wonderful site"
        assert site_description.users.count == len(USERS)

        session = api(profile='day to day working')
        assert isinstance(session, AsyncSession)
        assert (await session.home.describe_site()).role == "day to day working"

        session = api(key_id=DEFAULT_KEY[0], key_secret=DEFAULT_KEY[1])
        assert await session.home.whoami() == "default"


async def test_method_properties(site, spec_home) -> None:
    async with AsyncAPI(site.root, ['~/.mywonderfulsite/config']) as api:
        method = api.home.list_users
        assert method.name == "home.list_users"
        assert method.collate(filter=UserFilter(name_gt="a"), usernames=["bob"]) == {
            "filter.name_gt": "a", "filter.name_lt": "\uffff", "usernames.0": "bob"}
        assert await method.json(usernames=["bob"]) == [{"username": "bob", "api_id": "u-0000000000000000"}]
        got = await api.home.upload(document=FileUpload(b"async bytes", filename="a.txt"))
        assert (got.filename, got.size) == ("a.txt", 11)


async def test_errors_are_typed(site, spec_home) -> None:
    async with AsyncAPI(site.root, ['~/.mywonderfulsite/config']) as api:
        with pytest.raises(BadArguments) as bad:
            await api.home.echo(number="many")
        assert bad.value.field == "number"
        with pytest.raises(ServerError):
            await api.home.broken()
        with pytest.raises(NotAuthorised):
            await api(key_id=DEFAULT_KEY[0], key_secret="wrong").home.whoami()


async def test_callasync_is_a_task_and_close_waits_for_it(spec_home, caplog) -> None:
    api_site = make_site()
    with serving(api_site) as server:
        api = AsyncAPI(server.root, ['~/.mywonderfulsite/config'])
        task = api.home.record.callasync(what="from a task")
        assert isinstance(task, asyncio.Task)
        with caplog.at_level(logging.ERROR, logger="interlink.client"):
            await api.home.broken.callasync()
        await api.aclose()
    assert api_site.calls == ["from a task"]
    assert any("home.broken" in r.getMessage() for r in caplog.records if r.name == "interlink.client")


async def test_broadcast_with_one_root_down(spec_home) -> None:
    down = f"http://127.0.0.1:{unused_port()}/api"
    with serving(make_site("one")) as one, serving(make_site("two")) as two:
        async with AsyncAPI(one.root, ['~/.mywonderfulsite/config'], retries=0) as api:
            outcomes = await api.home.describe_site.broadcast([down, one.root, two.root])
    assert list(outcomes) == [down, one.root, two.root]
    assert isinstance(outcomes[down], httpx.ConnectError)
    assert (outcomes[one.root].name, outcomes[two.root].name) == ("one", "two")


async def test_closing_closes_the_connections(site) -> None:
    api = AsyncAPI(site.root)
    session = api(key_id=DEFAULT_KEY[0], key_secret=DEFAULT_KEY[1])
    assert await session.home.whoami() == "default"
    await api.close()
    with pytest.raises(RuntimeError):
        await session.home.whoami()
