"""Hypothesis strategies for any protobuf message, built from its descriptor.

Two ways in. :func:`messages` draws a whole message field by field (every scalar from a
pool of edge values and random ones, sub-messages to a bounded depth, well-known types
with their own edges). :func:`mutations` starts from a valid request and replaces one to
three of its fields, anywhere in the message tree, with such values: a request that is
right except for one field reaches past the first check, into the code that trusts what
the first checks let through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

Path = tuple[FieldDescriptor, ...]
_F = FieldDescriptor

INT32 = (0, 1, -1, 2, 7, 100, 10_000, 2**31 - 1, -(2**31))
INT64 = (*INT32, 2**53 + 1, 2**62, 2**63 - 1, -(2**63), -(2**62))
UINT32 = (0, 1, 2, 100, 2**31, 2**32 - 1)
UINT64 = (*UINT32, 2**63, 2**64 - 1)
DOUBLES = (
    0.0, -0.0, 1.0, -1.0, 0.5, 0.05, 1.5, 1e-9, 5e-324, 1e300, -1e300, 1.7976931348623157e308,
    float("inf"), float("-inf"), float("nan"),
)  # fmt: skip
STRINGS = (
    "", " ", "acme", "org_001", "other_org", "a", "0", "-1", "true", "null", "NaN",
    "2024-11-01", "9999-12-31", "0000-00-00", "US", "USD", "meta", "y", "treated", "geo",
    "day", "../../etc/passwd", "'; DROP TABLE records; --", "%s%s%n", "\x00", "a\x00b",
    "\u202eevil", "é", "😀" * 3, "ñandú", "\n", "x" * 300, "x" * 20_000,
)  # fmt: skip

_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    _F.TYPE_INT32: st.sampled_from(INT32) | st.integers(-(2**31), 2**31 - 1),
    _F.TYPE_SINT32: st.sampled_from(INT32) | st.integers(-(2**31), 2**31 - 1),
    _F.TYPE_SFIXED32: st.sampled_from(INT32),
    _F.TYPE_INT64: st.sampled_from(INT64) | st.integers(-(2**63), 2**63 - 1),
    _F.TYPE_SINT64: st.sampled_from(INT64),
    _F.TYPE_SFIXED64: st.sampled_from(INT64),
    _F.TYPE_UINT32: st.sampled_from(UINT32),
    _F.TYPE_FIXED32: st.sampled_from(UINT32),
    _F.TYPE_UINT64: st.sampled_from(UINT64),
    _F.TYPE_FIXED64: st.sampled_from(UINT64),
    _F.TYPE_DOUBLE: st.sampled_from(DOUBLES) | st.floats(),
    _F.TYPE_FLOAT: st.sampled_from(DOUBLES) | st.floats(width=32),
    _F.TYPE_BOOL: st.booleans(),
    # Python strs the wire can carry (no lone surrogates): invalid UTF-8 on the wire is a
    # transport test of its own.
    _F.TYPE_STRING: st.sampled_from(STRINGS)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    _F.TYPE_BYTES: st.binary(max_size=64),
}

_JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.sampled_from(DOUBLES[:-3])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(STRINGS)
)


def _value(v: Any) -> struct_pb2.Value:
    out = struct_pb2.Value()
    if v is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, float):
        out.number_value = v
    elif isinstance(v, str):
        out.string_value = v
    elif isinstance(v, list):
        out.list_value.values.extend(_value(x) for x in v)
    else:
        out.struct_value.CopyFrom(_struct(v))
    return out


def _struct(d: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    for k, v in d.items():
        out.fields[k].CopyFrom(_value(v))
    return out


def nested_struct(depth: int) -> struct_pb2.Struct:
    """A Struct ``depth`` levels deep, built without recursion."""
    inner = struct_pb2.Struct()
    for _ in range(depth):
        outer = struct_pb2.Struct()
        outer.fields["a"].struct_value.CopyFrom(inner)
        inner = outer
    return inner


_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(STRINGS), inner, max_size=3)
    ),
    max_leaves=8,
)
STRUCTS: st.SearchStrategy[struct_pb2.Struct] = st.one_of(
    st.dictionaries(st.sampled_from(STRINGS) | st.text(max_size=10), _JSON, max_size=6).map(
        _struct
    ),
    st.sampled_from((5, 64, 150)).map(nested_struct),
)
TIMESTAMPS: st.SearchStrategy[timestamp_pb2.Timestamp] = st.builds(
    timestamp_pb2.Timestamp,
    seconds=st.sampled_from(
        (0, 1, -1, 1_730_000_000, 253_402_300_799, -62_135_596_800, 2**62, -(2**62))
    )
    | st.integers(-(2**63), 2**63 - 1),
    # mostly valid, so that an edge in seconds is not hidden behind bad nanos
    nanos=st.sampled_from((0, 0, 0, 1, 999_999_999, 1_000_000_000, -1, 2**31 - 1)),
)
WELL_KNOWN: dict[str, st.SearchStrategy[Any]] = {
    "google.protobuf.Struct": STRUCTS,
    "google.protobuf.Timestamp": TIMESTAMPS,
    "google.protobuf.Value": _JSON.map(_value),
}


def _enum(field: FieldDescriptor) -> st.SearchStrategy[int]:
    known = [v.number for v in field.enum_type.values]
    return st.sampled_from(known) | st.sampled_from((-1, max(known) + 1, 999, 2**31 - 1))


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == _F.TYPE_ENUM:
        return _enum(field)
    return _SCALARS[field.type]


def value_for(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    """One element's value for ``field`` (a message for message fields)."""
    if field.message_type is not None:
        return messages(field.message_type, depth)
    return scalar(field)


def _elements(field: FieldDescriptor, depth: int) -> st.SearchStrategy[list[Any]]:
    one = value_for(field, depth)
    few = st.lists(one, max_size=3)
    if field.message_type is not None:
        return few
    # Now and then a long list of one short value: sizes are bounded at the edge or not at all
    # (short, so the message stays inside gRPC's 64 MiB and tests the server, not the client).
    short = one.filter(lambda v: not isinstance(v, str | bytes) or len(v) <= 64)
    return few | st.tuples(short, st.sampled_from((1_000, 20_000))).map(lambda p: [p[0]] * p[1])


def _is_map(field: FieldDescriptor) -> bool:
    m = field.message_type
    return m is not None and m.GetOptions().map_entry


def assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    """Set ``field`` of ``message`` to ``value`` (a list for repeated, a dict for maps)."""
    name = field.name
    if _is_map(field):
        target = getattr(message, name)
        value_field = field.message_type.fields_by_name["value"]
        for k, v in value.items():
            if value_field.message_type is not None:
                target[k].CopyFrom(v)
            else:
                target[k] = v
    elif field.is_repeated:
        target = getattr(message, name)
        del target[:]
        if field.message_type is not None:
            for v in value:
                target.add().CopyFrom(v)
        else:
            target.extend(value)
    elif field.message_type is not None:
        getattr(message, name).CopyFrom(value)
    else:
        setattr(message, name, value)


def field_strategy(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    """What :func:`assign` takes for ``field``."""
    if _is_map(field):
        entry = field.message_type
        return st.dictionaries(
            scalar(entry.fields_by_name["key"]),
            value_for(entry.fields_by_name["value"], depth),
            max_size=3,
        )
    if field.is_repeated:
        return _elements(field, depth)
    return value_for(field, depth)


def messages(descriptor: Descriptor, depth: int = 3) -> st.SearchStrategy[Message]:
    """Messages of ``descriptor`` with a random subset of fields set to drawn values."""
    if descriptor.full_name in WELL_KNOWN:
        return WELL_KNOWN[descriptor.full_name]
    cls = _class(descriptor)
    if depth <= 0:
        return st.just(cls())
    fields = list(descriptor.fields)

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Message:
        out = cls()
        for field in fields:
            if draw(st.booleans()):
                assign(out, field, draw(field_strategy(field, depth - 1)))
        return out

    return build()


def field_paths(descriptor: Descriptor, depth: int = 4) -> list[Path]:
    """Every field path reachable from ``descriptor`` within ``depth`` hops (maps and
    well-known types are leaves)."""
    out: list[Path] = []
    stack: list[tuple[Descriptor, Path]] = [(descriptor, ())]
    while stack:
        d, prefix = stack.pop()
        for field in d.fields:
            path = (*prefix, field)
            out.append(path)
            m = field.message_type
            leaf = m is None or _is_map(field) or m.full_name in WELL_KNOWN
            if not leaf and len(path) < depth and m.full_name != d.full_name:
                stack.append((m, path))
    return sorted(out, key=lambda p: [f.name for f in p])


def _set_path(message: Message, path: Path, value: Any) -> None:
    target = message
    for field in path[:-1]:
        if field.is_repeated:
            items = getattr(target, field.name)
            target = items[0] if len(items) else items.add()
        else:
            target = getattr(target, field.name)
    assign(target, path[-1], value)


# The org is checked first, by one function, everywhere: a request whose org is broken tests
# nothing past that check, so mutations leave it alone (drawn messages still vary it).
_KEPT = frozenset({"org_id"})


def mutations(seeds: Sequence[Message], changes: int = 3) -> st.SearchStrategy[Message]:
    """A seed with one to ``changes`` fields anywhere in it replaced by drawn values."""
    descriptor = seeds[0].DESCRIPTOR
    every = field_paths(descriptor)
    paths = [p for p in every if not (len(p) == 1 and p[0].name in _KEPT)] or every
    cls = _class(descriptor)

    @st.composite
    def mutate(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Message:
        out = cls()
        out.CopyFrom(draw(st.sampled_from(seeds)))
        for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=changes)):
            _set_path(out, path, draw(field_strategy(path[-1], 2)))
        return out

    return mutate()


def requests(seeds: Sequence[Message]) -> st.SearchStrategy[Message]:
    """Half seeds with one field changed, a quarter with up to three, the rest drawn from
    scratch or the seeds themselves."""
    kinds = (
        [mutations(seeds, changes=1)] * 10
        + [mutations(seeds)] * 5
        + [messages(seeds[0].DESCRIPTOR)] * 3
        + [st.sampled_from(seeds)] * 2
    )
    return st.integers(0, len(kinds) - 1).flatmap(lambda k: kinds[k])


def _class(descriptor: Descriptor) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)
