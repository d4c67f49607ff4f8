"""The ``interlink`` command: users, roles, keys and service records; serve a site; call a method.

    interlink users create joebloggs                  # prints the user's api_id (u-…)
    interlink roles create --user joebloggs everyday  # prints the role's api_id (r-…)
    interlink keys create --role everyday             # prints the key id and secret, once
    interlink keys list                               # a table; never a secret
    interlink keys revoke k-0123456789abcdef
    interlink services list                           # a table; never a secret
    interlink serve mysite.api:api --port 8000
    interlink call home.list_users filter.name_gt=a --root http://127.0.0.1:8000/api

One module per command group (``_users``, ``_roles``, ``_keys``, ``_services``, ``_serve``,
``_call``), each a plain click group or command; what they share is in ``_common``: the
database state, ``CliError`` and ``print_table``, the one rich table every listing prints.

Exit status, the same for every command:

* ``0``: done.
* ``1``: a well-formed command that could not be done: a user, role, key or service that does
  not exist, a name already taken, a password or name the store refuses, a database that
  cannot be opened, an error answer or no answer from a server. One line on stderr.
* ``2``: the command line is wrong, as click reports it: an unknown command or option, a
  missing argument, a value that cannot be read (a duration, a network, a ``name=value`` field,
  a ``MODULE:ATTR`` target).

Every command that touches the database migrates it first (a no-op when it is up to date).
Only the commands that make data (``users create``, ``services add``, ``webhooks add``, ``sync
run``) may make a new database; the others refuse one that does not exist, naming the URL
(``_common.check_database_url``). An error a command does not report itself (a missing extra,
a bug) still ends in one line (``LazyGroup.invoke``); ``interlink -v`` shows its traceback.
``serve``, ``services`` and ``call`` are registered lazily (``LAZY_COMMANDS``) so that managing
keys does not import the web server or httpx; another module may also call
``main.add_command(cmd)``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

try:
    import click
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"the interlink command needs the cli extra ({error}): pip install 'interlink[cli]'") from error

from ._common import EXIT_FAILED, EXIT_USAGE, CliError, CliState, one_line, print_table
from ._keys import keys
from ._roles import roles
from ._users import users

__all__ = ["EXIT_FAILED", "EXIT_USAGE", "LAZY_COMMANDS", "CliError", "CliState", "main", "print_table"]

#: command name -> "module:attribute"; listed only when the module is importable.
LAZY_COMMANDS: dict[str, str] = {
    "serve": "interlink.cli._serve:serve",
    "services": "interlink.cli._services:services",
    "call": "interlink.cli._call:call",
    "callbacks": "interlink.cli._callbacks:callbacks",
    "webhooks": "interlink.cli._webhooks:webhooks",
    "deliveries": "interlink.cli._deliveries:deliveries",
    "worker": "interlink.cli._worker:worker",
    "sync": "interlink.cli._sync:sync",
}


class LazyGroup(click.Group):
    """A group that imports some subcommands only when they are used."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def _available_lazy(self) -> list[str]:
        names = []
        for name, target in self.lazy_commands.items():
            module = target.partition(":")[0]
            try:
                found = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:
                found = False
            if found:
                names.append(name)
        return names

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._available_lazy()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in self.lazy_commands:
            return command
        module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                return None
            raise
        command = getattr(module, attribute)
        self.add_command(command, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Every command's last line of defence: an error it did not turn into a ``CliError``
        itself (a missing extra, a bug) ends in one line too; ``-v`` shows the traceback."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if isinstance(ctx.obj, CliState) and ctx.obj.verbose:
                raise
            raise one_line(error) from None


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS)
@click.option(
    "--database",
    "database_url",
    envvar="INTERLINK_DATABASE_URL",
    metavar="URL",
    help="SQLAlchemy URL [env INTERLINK_DATABASE_URL; default sqlite:///interlink.db]",
)
@click.option("-v", "--verbose", is_flag=True, help="show the traceback of an error, not just its one line")
@click.version_option(package_name="interlink")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, verbose: bool) -> None:
    """interlink: serve typed API methods over POST and call them; manage the users, roles and
    keys that call them, the service records of clients of other services, callbacks and
    webhooks (their signing secrets, endpoints, deliveries and workers), and sync flows.

    A command whose extra is not installed says which one to install; every error is one
    line (-v shows the traceback).

    Exit status: 0 done, 1 the command could not be done (not found, already exists, refused,
    unreachable), 2 the command line is wrong.
    """
    ctx.obj = CliState(database_url, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)


main.add_command(users)
main.add_command(roles)
main.add_command(keys)
