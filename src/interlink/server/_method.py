"""One API method: its public name, compiled argument converter, result encoder and access rule."""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable

from interlink.identity import Role
from interlink.wire import Arguments, FileStream, FileUpload, Parameter, Result

from ._call import Call


def _is_role(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Role)


def _mentions(annotation: object, tp: type) -> bool:
    """Whether a type expression names ``tp`` anywhere in it (``tp | None``, ``list[tp]``)."""
    if annotation is tp:
        return True
    return any(_mentions(arg, tp) for arg in typing.get_args(annotation))


class Method:
    """A function published as ``POST /api/<module>/<function>``.

    A first parameter annotated ``Role`` receives the caller's role and makes the method require
    authentication; without one the method is public. A parameter annotated ``Call`` (anywhere)
    receives the call's context: ``call.db``, ``call.role``, ``call.user``, ``call.client``.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        module: str,
        *,
        name: str | None = None,
        requires: typing.Iterable[str] = (),
        callbacks: typing.Iterable[object] = (),
    ) -> None:
        self.function = function
        # Callbacks the method may send (interlink.callbacks.Callback): declarations only, opaque
        # here; the extension that delivers them (interlink.callbacks.Callbacks) documents and
        # sends them.
        self.callbacks: tuple[object, ...] = tuple(callbacks)
        self.module = module
        self.function_name = name or function.__name__
        self.name = f"{module}.{self.function_name}"
        self.requires = frozenset(requires)
        self.is_async = inspect.iscoroutinefunction(function)
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function, include_extras=True)
        parameters = list(signature.parameters.values())
        self.role_parameter: str | None = None
        if parameters and _is_role(hints.get(parameters[0].name)):
            self.role_parameter = parameters[0].name
            parameters = parameters[1:]
        self.call_parameter: str | None = None
        wire_parameters = []
        for p in parameters:
            if hints.get(p.name) is Call:
                if self.call_parameter is not None:
                    raise TypeError(f"{self.name}: only one parameter may be annotated Call")
                self.call_parameter = p.name
                continue
            wire_parameters.append(p)
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{self.name}: *args and **kwargs cannot be sent as form fields")
            if p.name not in hints:
                raise TypeError(f"{self.name}: parameter {p.name!r} needs a type annotation")
            if _is_role(hints[p.name]):
                raise TypeError(f"{self.name}: the Role parameter must come first")
        self.arguments = Arguments(
            [Parameter(p.name, hints[p.name], p.default) for p in wire_parameters], title=self.name
        )
        # A FileStream parameter: the ASGI shell calls the method once the fields before the
        # file part are read, and the method reads the file as it arrives (server/_streamed_form.py).
        streamed = [p.name for p in wire_parameters if hints[p.name] is FileStream]
        for p in wire_parameters:
            if hints[p.name] is not FileStream and _mentions(hints[p.name], FileStream):
                raise TypeError(f"{self.name}: {p.name!r}: a FileStream is a parameter of its own, "
                                "required, not inside another type (Optional, list)")
        self.stream_parameter: str | None = streamed[0] if streamed else None
        if len(streamed) > 1:
            raise TypeError(f"{self.name}: only one parameter may be a FileStream")
        if streamed and not self.is_async:
            raise TypeError(f"{self.name}: a FileStream is read with await: make the method async def")
        if streamed and any(isinstance(hints[p.name], type) and issubclass(hints[p.name], FileUpload)
                            for p in wire_parameters):
            raise TypeError(f"{self.name}: a method that streams a FileStream takes no FileUpload too")
        self.returns = hints.get("return", inspect.Signature.empty)
        self.result = Result(self.returns)
        doc = inspect.getdoc(function) or ""
        self.summary, _, self.description = doc.partition("\n")
        self.description = self.description.strip()
        if self.requires and self.role_parameter is None:
            raise TypeError(f"{self.name}: `requires` needs a first parameter annotated Role")

    @property
    def public(self) -> bool:
        return self.role_parameter is None

    def __repr__(self) -> str:
        return f"<Method {self.name}>"
