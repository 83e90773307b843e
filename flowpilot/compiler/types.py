"""The compiler's small type model, derived from JSON Schema.

Types are immutable values. ``ANY`` is both top and bottom (an unknown value checks against
everything, as in gradual typing) so that missing information never produces false errors.
``assignable(src, dst)`` answers "may a value of type ``src`` go where ``dst`` is expected?".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Type:
    """Base of all types."""

    __slots__ = ()

    def describe(self) -> str:
        """How the type is written in diagnostics (``string``, ``number[]``, ``file`` …)."""
        return type(self).__name__.removesuffix("Type").lower()

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True, slots=True)
class AnyType(Type):
    def describe(self) -> str:
        return "any"


@dataclass(frozen=True, slots=True)
class NullType(Type):
    def describe(self) -> str:
        return "null"


@dataclass(frozen=True, slots=True)
class BoolType(Type):
    def describe(self) -> str:
        return "boolean"


@dataclass(frozen=True, slots=True)
class IntType(Type):
    def describe(self) -> str:
        return "integer"


@dataclass(frozen=True, slots=True)
class NumberType(Type):
    def describe(self) -> str:
        return "number"


@dataclass(frozen=True, slots=True)
class StringType(Type):
    """A string, optionally with a JSON Schema ``format`` or a closed set of values (``enum``)."""

    format: str | None = None
    enum: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.enum:
            return " | ".join(repr(v) for v in self.enum[:6]) + (
                " | …" if len(self.enum) > 6 else ""
            )
        return f"string<{self.format}>" if self.format else "string"


@dataclass(frozen=True, slots=True)
class SecretType(Type):
    """A secret value: may only flow into inputs marked ``"x-secret": true``."""

    def describe(self) -> str:
        return "secret"


@dataclass(frozen=True, slots=True)
class ArrayType(Type):
    item: Type = field(default_factory=AnyType)

    def describe(self) -> str:
        inner = self.item.describe()
        return f"({inner})[]" if isinstance(self.item, UnionType) else f"{inner}[]"


@dataclass(frozen=True, slots=True)
class ObjectType(Type):
    """An object. ``properties`` are the known fields; ``extra`` the type of any other field
    (None = closed: an unknown field is an error; ANY = open).
    ``name`` labels well-known shapes in messages (``file``, ``step``, …).
    """

    properties: tuple[tuple[str, Type], ...] = ()
    required: frozenset[str] = frozenset()
    extra: Type | None = field(default_factory=AnyType)
    name: str | None = None

    @property
    def fields(self) -> dict[str, Type]:
        return dict(self.properties)

    def field_type(self, key: str) -> Type | None:
        for name, typ in self.properties:
            if name == key:
                return typ
        return self.extra

    def describe(self) -> str:
        if self.name:
            return self.name
        if not self.properties:
            return "object"
        shown = ", ".join(f"{k}: {v.describe()}" for k, v in self.properties[:4])
        more = ", …" if len(self.properties) > 4 else ""
        return "{" + shown + more + "}"


@dataclass(frozen=True, slots=True)
class UnionType(Type):
    members: tuple[Type, ...]

    def describe(self) -> str:
        non_null = [m for m in self.members if not isinstance(m, NullType)]
        if len(non_null) == 1 and len(self.members) == 2:
            return f"{non_null[0].describe()}?"
        return " | ".join(m.describe() for m in self.members)


ANY = AnyType()
NULL = NullType()
BOOL = BoolType()
INT = IntType()
NUMBER = NumberType()
STRING = StringType()
SECRET = SecretType()

FILE = ObjectType(
    properties=(
        ("id", STRING),
        ("name", STRING),
        ("mime_type", STRING),
        ("size", INT),
        ("sha256", STRING),
        ("url", StringType(format="uri")),
    ),
    required=frozenset({"id", "name", "mime_type", "size"}),
    extra=None,
    name="file",
)


def union(types: Iterable[Type]) -> Type:
    """The union of ``types``, flattened and de-duplicated; ANY absorbs everything."""
    members: list[Type] = []
    for t in types:
        parts = t.members if isinstance(t, UnionType) else (t,)
        for p in parts:
            if isinstance(p, AnyType):
                return ANY
            if p not in members:
                members.append(p)
    if INT in members and NUMBER in members:
        members.remove(INT)
    if not members:
        return ANY
    if len(members) == 1:
        return members[0]
    return UnionType(tuple(members))


def optional(t: Type) -> Type:
    return union((t, NULL))


def non_null(t: Type) -> Type:
    """``t`` without null (what a value is after a null check)."""
    if isinstance(t, UnionType):
        return union(m for m in t.members if not isinstance(m, NullType))
    return t


def is_nullable(t: Type) -> bool:
    return isinstance(t, NullType) or (
        isinstance(t, UnionType) and any(isinstance(m, NullType) for m in t.members)
    )


def is_numeric(t: Type) -> bool:
    return isinstance(t, IntType | NumberType | AnyType)


def contains_secret(t: Type) -> bool:
    if isinstance(t, SecretType):
        return True
    if isinstance(t, UnionType):
        return any(contains_secret(m) for m in t.members)
    return False


def assignable(src: Type, dst: Type) -> bool:
    """May a value of type ``src`` be used where ``dst`` is expected?"""
    if isinstance(src, AnyType) or isinstance(dst, AnyType):
        return True
    if isinstance(src, UnionType):
        return all(assignable(m, dst) for m in src.members)
    if isinstance(dst, UnionType):
        return any(assignable(src, m) for m in dst.members)
    if isinstance(dst, SecretType):
        # A plain string may go where a secret is accepted (it is then treated as sensitive).
        return isinstance(src, SecretType | StringType)
    if isinstance(src, SecretType):
        return False
    if isinstance(dst, NumberType):
        return isinstance(src, NumberType | IntType)
    if isinstance(dst, StringType):
        if not isinstance(src, StringType):
            return False
        if dst.enum is not None:
            return src.enum is not None and set(src.enum) <= set(dst.enum)
        return True
    if isinstance(dst, ArrayType):
        return isinstance(src, ArrayType) and assignable(src.item, dst.item)
    if isinstance(dst, ObjectType):
        if not isinstance(src, ObjectType):
            return False
        if dst.name == "file" and src.name != "file":
            # Any object with the file fields is a file (e.g. a previous step's file output).
            return all(src.field_type(k) is not None for k in dst.required) or not src.properties
        src_fields = src.fields
        for key, typ in dst.properties:
            if key in src_fields:
                if not assignable(src_fields[key], typ):
                    return False
            elif key in dst.required and src.extra is None:
                return False
        return True
    return type(src) is type(dst)


# --------------------------------------------------------------------------------------------
# From JSON Schema
# --------------------------------------------------------------------------------------------

_SIMPLE: dict[str, Type] = {
    "string": STRING,
    "number": NUMBER,
    "integer": INT,
    "boolean": BOOL,
    "null": NULL,
    "file": FILE,
    "secret": SECRET,
    "any": ANY,
}


def from_schema(schema: Mapping[str, Any] | bool | None, *, closed: bool = False) -> Type:
    """The type of values valid against a JSON Schema (draft 2020-12 subset).

    Understands ``type`` (string or list), ``format``, ``enum``, ``const``, ``properties``,
    ``required``, ``additionalProperties``, ``items``, ``anyOf``/``oneOf``, and the FlowPilot
    extensions ``"x-type": "file" | "secret"`` and ``"x-secret": true`` (the input accepts a
    secret as well as its declared type).
    """
    if schema is None or schema is True or not isinstance(schema, Mapping):
        return ANY
    base = _from_schema(schema, closed)
    if schema.get("x-secret"):
        return union((base, SECRET))
    return base


def _from_schema(schema: Mapping[str, Any], closed: bool) -> Type:
    xtype = schema.get("x-type")
    if xtype in ("file", "secret"):
        return _SIMPLE[xtype]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return union(from_schema(s, closed=closed) for s in schema[key])
    if "const" in schema:
        return _literal_type(schema["const"])
    if isinstance(schema.get("enum"), list):
        enum = schema["enum"]
        if enum and all(isinstance(v, str) for v in enum):
            return StringType(enum=tuple(enum))
        return union(_literal_type(v) for v in enum)
    typ = schema.get("type")
    if isinstance(typ, list):
        return union(_typed(schema, t, closed) for t in typ)
    if isinstance(typ, str):
        return _typed(schema, typ, closed)
    if "properties" in schema:
        return _typed(schema, "object", closed)
    if "items" in schema:
        return _typed(schema, "array", closed)
    return ANY


def _typed(schema: Mapping[str, Any], typ: str, closed: bool) -> Type:
    if typ == "string":
        fmt = schema.get("format")
        return StringType(format=fmt) if isinstance(fmt, str) else STRING
    if typ == "array":
        return ArrayType(from_schema(schema.get("items"), closed=closed))
    if typ == "object":
        props = schema.get("properties") or {}
        required = schema.get("required") or []
        # A schema the user wrote that lists properties describes the whole object: a field
        # outside it is far more likely a typo than data (``closed``).
        default_additional = not (closed and props)
        additional = schema.get("additionalProperties", default_additional)
        if additional is False:
            extra: Type | None = None
        elif isinstance(additional, Mapping):
            extra = from_schema(additional, closed=closed)
        else:
            extra = ANY
        if not isinstance(props, Mapping):
            props = {}
        return ObjectType(
            properties=tuple((k, from_schema(v, closed=closed)) for k, v in props.items()),
            required=frozenset(r for r in required if isinstance(r, str)),
            extra=extra,
        )
    return _SIMPLE.get(typ, ANY)


def _literal_type(value: Any) -> Type:
    return type_of_value(value)


def type_of_value(value: Any) -> Type:
    """The type of a plain JSON value (a literal in the flow)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return ArrayType(union(type_of_value(v) for v in value) if value else ANY)
    if isinstance(value, dict):
        return ObjectType(
            properties=tuple((str(k), type_of_value(v)) for k, v in value.items()),
            required=frozenset(str(k) for k in value),
            extra=None,
        )
    return ANY
