"""interlink.wire: Python types on the wire, with no I/O.

Form fields (dotted names, indexed or bare lists, the empty marker, checkbox bools), query
pairs and JSON bodies decode into typed values by one compiled converter per type; the same
description yields the JSON Schema, and :func:`collate` turns values back into form pairs for
the client. Every parser is bounded (``_limits.py``): what a caller sends is measured before
anything is built from it. Nothing here imports the rest of interlink.
"""

from ._arguments import Arguments, Parameter, collate, decode
from ._json import parse_json
from ._limits import INT_MAX, INT_MIN, MAX_DEPTH, MAX_FIELDS, MAX_NAME_LENGTH, MAX_NUMBER_LENGTH
from ._result import Result
from ._schema import WireJsonSchema
from ._shape import FALSE_TEXTS, TRUE_TEXTS, Node, Shape, build_tree, shape_of, shape_of_value
from ._stream import FileStream, UploadCut
from ._values import FileUpload, FormValue, Model, WireError

__all__ = [
    "Arguments",
    "FileStream",
    "FileUpload",
    "FormValue",
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "MAX_FIELDS",
    "MAX_NAME_LENGTH",
    "MAX_NUMBER_LENGTH",
    "Model",
    "Node",
    "Parameter",
    "Result",
    "FALSE_TEXTS",
    "TRUE_TEXTS",
    "Shape",
    "UploadCut",
    "WireError",
    "WireJsonSchema",
    "build_tree",
    "collate",
    "decode",
    "parse_json",
    "shape_of",
    "shape_of_value",
]
