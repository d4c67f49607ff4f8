"""Credentials: INI profiles files and environment variables, resolved the way AWS clients do.

Pure: reading files and the environment is done by the caller's shell (``load_profiles`` is the
one helper that opens files, and it only reads). A secret is held in a ``Credentials`` whose
repr never shows it.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "ACCESS_KEY_ID_ENV",
    "ACCESS_KEY_SECRET_ENV",
    "DEFAULT_PROFILE",
    "PROFILE_ENV",
    "Credentials",
    "CredentialsFileError",
    "ProfileNotFound",
    "load_profiles",
    "parse_profiles",
    "resolve_credentials",
]

DEFAULT_PROFILE = "default"
PROFILE_ENV = "INTERLINK_PROFILE"
ACCESS_KEY_ID_ENV = "INTERLINK_ACCESS_KEY_ID"
ACCESS_KEY_SECRET_ENV = "INTERLINK_ACCESS_KEY_SECRET"
KEY_ID_OPTION = "access_key_id"
KEY_SECRET_OPTION = "access_key_secret"


class CredentialsFileError(ValueError):
    """A credentials file that cannot be read as profiles; names the file and the line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.message = message


class ProfileNotFound(LookupError):
    """A profile was asked for by name and no credentials file defines it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """A key id and its secret. The secret is left out of repr so it cannot reach logs."""

    key_id: str
    key_secret: str = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        if not self.key_id or not self.key_secret:
            raise ValueError("credentials need both a key id and a key secret")
        if ":" in self.key_id:
            raise ValueError("a key id cannot contain ':'")

    @property
    def authorisation(self) -> str:
        """The value of the ``authorisation`` POST field: ``keyid:secret``."""
        return f"{self.key_id}:{self.key_secret}"


def parse_profiles(text: str, source: str = "<credentials>") -> dict[str, Credentials]:
    """The profiles of one credentials file's text; ``source`` names the file in errors."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00no default\x00")
    try:
        parser.read_string(text, source=source)
    except configparser.MissingSectionHeaderError as exc:
        raise CredentialsFileError(source, exc.lineno, "expected a [profile name] line first") from None
    except configparser.DuplicateSectionError as exc:
        raise CredentialsFileError(source, exc.lineno, f"profile [{exc.section}] is defined twice") from None
    except configparser.DuplicateOptionError as exc:
        raise CredentialsFileError(source, exc.lineno, f"{exc.option} is set twice in [{exc.section}]") from None
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else None
        raise CredentialsFileError(source, line, "not a 'name = value' line") from None
    profiles: dict[str, Credentials] = {}
    for name in parser.sections():
        section = parser[name]
        missing = [o for o in (KEY_ID_OPTION, KEY_SECRET_OPTION) if not section.get(o, "").strip()]
        if missing:
            raise CredentialsFileError(
                source, _section_line(text, name), f"profile [{name}] has no {' or '.join(missing)}"
            )
        try:
            profiles[name] = Credentials(section[KEY_ID_OPTION].strip(), section[KEY_SECRET_OPTION].strip())
        except ValueError as exc:
            raise CredentialsFileError(source, _section_line(text, name), f"profile [{name}]: {exc}") from None
    return profiles


def _section_line(text: str, name: str) -> int | None:
    header = re.compile(r"\s*\[\s*" + re.escape(name) + r"\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            return number
    return None


def load_profiles(files: Iterable[str | os.PathLike[str]]) -> dict[str, Credentials]:
    """Profiles from several files: ``~`` expands, missing files are skipped, and a later file's
    profile replaces an earlier one of the same name (later files add to earlier ones)."""
    profiles: dict[str, Credentials] = {}
    for file in files:
        path = Path(os.path.expanduser(os.fspath(file)))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except UnicodeDecodeError:
            raise CredentialsFileError(str(path), None, "not UTF-8 text") from None
        except OSError as exc:
            raise CredentialsFileError(str(path), None, exc.strerror or str(exc)) from None
        profiles.update(parse_profiles(text, str(path)))
    return profiles


def resolve_credentials(
    profiles: Mapping[str, Credentials],
    environ: Mapping[str, str],
    *,
    profile: str | None = None,
    key_id: str | None = None,
    key_secret: str | None = None,
) -> Credentials | None:
    """Which credentials a session uses, first match wins (the AWS order):

    1. ``key_id`` and ``key_secret`` given to the call;
    2. ``profile`` given to the call (it must exist);
    3. ``INTERLINK_ACCESS_KEY_ID`` and ``INTERLINK_ACCESS_KEY_SECRET``;
    4. the profile named by ``INTERLINK_PROFILE`` (it must exist);
    5. the ``default`` profile, when a file has one;
    6. none: the calls are anonymous, which public methods accept.
    """
    if key_id is not None or key_secret is not None:
        if not key_id or not key_secret:
            raise ValueError("give both key_id and key_secret")
        return Credentials(key_id, key_secret)
    if profile is not None:
        return _named(profiles, profile, "")
    env_id = environ.get(ACCESS_KEY_ID_ENV)
    env_secret = environ.get(ACCESS_KEY_SECRET_ENV)
    if env_id or env_secret:
        if not env_id or not env_secret:
            raise ValueError(f"set both {ACCESS_KEY_ID_ENV} and {ACCESS_KEY_SECRET_ENV}, or neither")
        return Credentials(env_id, env_secret)
    env_profile = environ.get(PROFILE_ENV)
    if env_profile:
        return _named(profiles, env_profile, f" (from {PROFILE_ENV})")
    return profiles.get(DEFAULT_PROFILE)


def _named(profiles: Mapping[str, Credentials], name: str, why: str) -> Credentials:
    try:
        return profiles[name]
    except KeyError:
        known = ", ".join(repr(p) for p in profiles) or "none"
        raise ProfileNotFound(f"no profile {name!r}{why} in the credentials files (profiles: {known})") from None
