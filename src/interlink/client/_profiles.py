"""Credentials: INI profiles files and environment variables, resolved the way AWS clients do.

Pure: reading files and the environment is done by the caller's shell (``load_profiles`` is the
one helper that opens files, and it only reads). A secret is held in a ``Credentials`` whose
repr never shows it.

A file may hold sections the client cannot use (``make run`` keeps the demo site's
``[site]`` login beside the ``[default]`` key). Such a section does not break the profiles
around it: it is an error only when it is the profile selected.
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
    "Profiles",
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


class Profiles(dict[str, Credentials]):
    """The usable profiles by name, plus ``unusable``: why each other section cannot be used
    (raised when that section is selected, never before)."""

    def __init__(
        self,
        usable: Mapping[str, Credentials] | None = None,
        unusable: Mapping[str, CredentialsFileError] | None = None,
    ) -> None:
        super().__init__(usable or {})
        self.unusable: dict[str, CredentialsFileError] = dict(unusable or {})

    def why_unusable(self, name: str) -> CredentialsFileError | None:
        """A fresh error saying why section ``name`` cannot be used; None if it can or is absent."""
        error = self.unusable.get(name)
        return None if error is None else CredentialsFileError(error.source, error.line, error.message)

    def merge(self, later: Profiles) -> None:
        """A later file's sections replace this one's of the same name, usable or not."""
        for name in later.unusable:
            self.pop(name, None)
        for name in later:
            self.unusable.pop(name, None)
        self.update(later)
        self.unusable.update(later.unusable)


def parse_profiles(text: str, source: str = "<credentials>") -> Profiles:
    """The profiles of one credentials file's text; ``source`` names the file in errors.

    A file that is not INI text is an error at once; a section without a usable key is
    kept in ``Profiles.unusable`` and is an error only when selected.
    """
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
    profiles = Profiles()
    for name in parser.sections():
        section = parser[name]
        missing = [o for o in (KEY_ID_OPTION, KEY_SECRET_OPTION) if not section.get(o, "").strip()]
        if missing:
            profiles.unusable[name] = CredentialsFileError(
                source, _section_line(text, name), f"profile [{name}] has no {' or '.join(missing)}"
            )
            continue
        try:
            profiles[name] = Credentials(section[KEY_ID_OPTION].strip(), section[KEY_SECRET_OPTION].strip())
        except ValueError as exc:
            profiles.unusable[name] = CredentialsFileError(
                source, _section_line(text, name), f"profile [{name}]: {exc}"
            )
    return profiles


def _section_line(text: str, name: str) -> int | None:
    header = re.compile(r"\s*\[\s*" + re.escape(name) + r"\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        if header.match(line):
            return number
    return None


def load_profiles(files: Iterable[str | os.PathLike[str]]) -> Profiles:
    """Profiles from several files: ``~`` expands, and a later file's profile replaces an
    earlier one of the same name (later files add to earlier ones).

    A file written under ``~`` (``~/.mysite/credentials``, the per-user place a program looks
    in by default) is optional: skipped when it does not exist. Any other file was named on
    purpose, so a missing one is a ``CredentialsFileError`` naming it, not a silent
    anonymous call."""
    profiles = Profiles()
    for file in files:
        written = os.fspath(file)
        path = Path(os.path.expanduser(written))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if written.startswith("~"):
                continue
            raise CredentialsFileError(str(path), None, "no such credentials file") from None
        except UnicodeDecodeError:
            raise CredentialsFileError(str(path), None, "not UTF-8 text") from None
        except OSError as exc:
            raise CredentialsFileError(str(path), None, exc.strerror or str(exc)) from None
        profiles.merge(parse_profiles(text, str(path)))
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

    A selected profile the files define but without a usable key raises its
    ``CredentialsFileError`` (naming file and line); other unusable sections are ignored.
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
    _raise_if_unusable(profiles, DEFAULT_PROFILE)
    return profiles.get(DEFAULT_PROFILE)


def _raise_if_unusable(profiles: Mapping[str, Credentials], name: str) -> None:
    error = profiles.why_unusable(name) if isinstance(profiles, Profiles) else None
    if error is not None:
        raise error


def _named(profiles: Mapping[str, Credentials], name: str, why: str) -> Credentials:
    _raise_if_unusable(profiles, name)
    try:
        return profiles[name]
    except KeyError:
        known = ", ".join(repr(p) for p in profiles) or "none"
        raise ProfileNotFound(f"no profile {name!r}{why} in the credentials files (profiles: {known})") from None
