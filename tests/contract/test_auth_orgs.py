"""Every org_id anywhere in a message (nested, repeated, map values, recursive types), and
the key format: KEY:ORG, KEY:ORG:SCOPES, KEY:service=NAME, KEY:* (plain Python, no server)."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.auth import (
    INTERNAL_METHODS,
    SCOPES,
    AuthConfig,
    Principal,
    authorize,
    request_orgs,
)
from mesh.runtime.channels import auth_metadata
from mesh.runtime.exceptions import PermissionDenied


def _node_class():  # type: ignore[no-untyped-def]
    """test.Node { org_id; Node child; repeated Node items; map<string, Node> kids;
    map<string, string> tags }: recursive, repeated and map-valued."""
    f = descriptor_pb2.FileDescriptorProto(name="test_node.proto", package="test", syntax="proto3")
    node = f.message_type.add(name="Node")
    T = descriptor_pb2.FieldDescriptorProto
    node.field.add(name="org_id", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    node.field.add(name="child", number=2, type=T.TYPE_MESSAGE, type_name=".test.Node",
                   label=T.LABEL_OPTIONAL)  # fmt: skip
    node.field.add(name="items", number=3, type=T.TYPE_MESSAGE, type_name=".test.Node",
                   label=T.LABEL_REPEATED)  # fmt: skip
    for name, number, value in (("kids", 4, ".test.Node"), ("tags", 5, None)):
        entry = node.nested_type.add(name=f"{name.title()}Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
        if value:
            entry.field.add(name="value", number=2, type=T.TYPE_MESSAGE, type_name=value,
                            label=T.LABEL_OPTIONAL)  # fmt: skip
        else:
            entry.field.add(name="value", number=2, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
        node.field.add(name=name, number=number, type=T.TYPE_MESSAGE,
                       type_name=f".test.Node.{name.title()}Entry", label=T.LABEL_REPEATED)  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("test.Node"))


Node = _node_class()


def test_nested_repeated_and_map_orgs_are_all_found() -> None:
    m = Node(org_id="a")
    m.child.child.org_id = "b"
    m.items.add().items.add(org_id="c")
    m.kids["x"].kids["y"].org_id = "d"
    m.tags["org_id"] = "not-an-org"  # a map key named org_id is data, not a field
    assert request_orgs(m) == {"a", "b", "c", "d"}


def test_deep_messages_do_not_blow_the_stack() -> None:
    m = Node()
    cur = m
    for _ in range(5000):
        cur = cur.child
    cur.org_id = "deep"
    assert request_orgs(m) == {"deep"}


def test_the_findings_requests() -> None:
    experiment = md_pb.CausalExperiment(org_id="org_b", experiment_id="e")
    experiment.result.org_id = "org_a"
    request = ingestion_pb.CreateExperimentRequest(experiment=experiment)
    assert request_orgs(request) == {"org_a", "org_b"}
    user_b = Principal("org_b", "org_b", ("public",))
    with pytest.raises(PermissionDenied):
        authorize(user_b, request)
    write = memory_pb.WriteRequest(org_id="org_b")
    write.records.add(org_id="org_b")
    write.records.add(org_id="org_a")
    with pytest.raises(PermissionDenied):
        authorize(user_b, write)
    authorize(Principal("*", "*", ("all",)), write)  # an all-org principal may


def test_key_formats() -> None:
    auth = AuthConfig.parse(
        " key-a:org_a , load:org_a:public+records.write, ing:service=ingestion, ops:*:public, legacy-key-xyz:*"
    )
    assert auth is not None

    def who(key: str) -> Principal:
        return auth.principal(auth_metadata(key))

    write, search = "/liftos.v1.MemoryService/Write", "/liftos.v1.MemoryService/Search"
    analysis = "/liftos.v1.CausalService/GetAnalysis"
    assert (who("key-a").org, who("key-a").allows(search), who("key-a").allows(write)) == (
        "org_a", True, False,
    )  # fmt: skip
    assert who("load").allows(write) and who("load").org == "org_a"
    assert who("ing").any_org and who("ing").allows(write) and not who("ing").allows(analysis)
    assert who("ops").any_org and who("ops").allows(search) and not who("ops").allows(write)
    assert who("legacy-key-xyz").allows(write) and who("legacy-key-xyz").allows(analysis)
    assert len(auth.warnings) == 1 and "entry 5" in auth.warnings[0]  # KEY:* is warned of
    assert "legacy-key-xyz" not in auth.warnings[0]


def test_scope_table_names_real_rpcs() -> None:
    from liftos.v1 import causal_pb2, ingestion_pb2, memory_pb2, surfacing_pb2

    real = {
        f"/{s.full_name}/{m.name}"
        for module in (causal_pb2, ingestion_pb2, memory_pb2, surfacing_pb2)
        for s in module.DESCRIPTOR.services_by_name.values()
        for m in s.methods
    }
    for name, methods in SCOPES.items():
        assert methods <= real, name
    assert real >= INTERNAL_METHODS
