"""Regenerates milvus-min.fds from the .proto files beside this script (the full set is an
intermediate, written to a temporary directory and not kept).

    python3 -m venv /tmp/v && /tmp/v/bin/pip install grpcio-tools
    /tmp/v/bin/python regen_fds.py

milvus.fds: milvus.proto and every file it imports (google/protobuf/descriptor.proto included), as
`protoc --include_imports --descriptor_set_out` writes it, without source info.
milvus-min.fds: the same cut down to the MilvusService methods in KEEP_METHODS and the messages and
enums they reach; the milvus custom options (and so descriptor.proto) are dropped.
"""
import os
import sys

import grpc_tools
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
KEEP_METHODS = [
    "GetVersion", "CheckHealth", "HasCollection", "DescribeCollection", "ShowCollections",
    "CreateCollection", "DropCollection", "LoadCollection", "ReleaseCollection", "GetLoadState",
    "CreateIndex", "DescribeIndex", "DropIndex", "Insert", "Upsert", "Delete", "Search", "Query",
    "Flush", "GetCollectionStatistics",
]
# Sent as serialized bytes (CreateCollectionRequest.schema, SearchRequest.placeholder_group), so
# no field refers to them.
KEEP_TYPES = [
    ".milvus.proto.schema.CollectionSchema",
    ".milvus.proto.common.PlaceholderGroup",
    ".milvus.proto.common.PlaceholderType",
]


def compile_full(out):
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["protoc", f"-I{HERE}", f"-I{include}", "--include_imports",
            f"--descriptor_set_out={out}", os.path.join(HERE, "milvus.proto")]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")


def refs(msg):
    for field in msg.field:
        if field.type_name:
            yield field.type_name
    for nested in msg.nested_type:
        yield from refs(nested)


def trim(src):
    top = {}  # ".pkg.Name" of each top-level message / enum -> (file name, descriptor)
    for f in src.file:
        for d in list(f.message_type) + list(f.enum_type):
            top[f".{f.package}.{d.name}"] = (f.name, d)

    def owner(type_name):  # ".pkg.Msg.Nested" -> ".pkg.Msg"
        parts = type_name.split(".")
        return next(".".join(parts[:i]) for i in range(len(parts), 1, -1)
                    if ".".join(parts[:i]) in top)

    keep, todo = set(), []

    def need(type_name):
        name = owner(type_name)
        if name not in keep:
            keep.add(name)
            todo.append(name)

    svc_file = next(f for f in src.file if any(s.name == "MilvusService" for s in f.service))
    svc = next(s for s in svc_file.service if s.name == "MilvusService")
    methods = [m for m in svc.method if m.name in KEEP_METHODS]
    missing = set(KEEP_METHODS) - {m.name for m in methods}
    if missing:
        sys.exit(f"MilvusService lacks {sorted(missing)}")
    for m in methods:
        need(m.input_type)
        need(m.output_type)
    for t in KEEP_TYPES:
        need(t)
    while todo:
        d = top[todo.pop()][1]
        if isinstance(d, descriptor_pb2.DescriptorProto):
            for r in refs(d):
                need(r)

    out = descriptor_pb2.FileDescriptorSet()
    for f in src.file:
        nf = descriptor_pb2.FileDescriptorProto()
        nf.CopyFrom(f)
        for repeated in (nf.message_type, nf.enum_type, nf.service, nf.extension, nf.dependency):
            del repeated[:]
        nf.message_type.extend(d for d in f.message_type if f".{f.package}.{d.name}" in keep)
        nf.enum_type.extend(d for d in f.enum_type if f".{f.package}.{d.name}" in keep)
        if f is svc_file:
            s = nf.service.add()
            s.CopyFrom(svc)
            del s.method[:]
            s.method.extend(methods)
        if not (nf.message_type or nf.enum_type or nf.service):
            continue
        used = {top[owner(r)][0] for d in nf.message_type for r in refs(d)}
        used |= {top[owner(t)][0] for s in nf.service for m in s.method
                 for t in (m.input_type, m.output_type)}
        nf.dependency.extend(x.name for x in src.file if x.name in used and x.name != nf.name)
        out.file.append(nf)
    # The values of the dropped custom options (common.privilege_ext_obj) are unknown fields now.
    out.DiscardUnknownFields()
    return out


def main():
    import tempfile

    full = os.path.join(tempfile.mkdtemp(), "milvus.fds")
    compile_full(full)
    src = descriptor_pb2.FileDescriptorSet()
    with open(full, "rb") as f:
        src.ParseFromString(f.read())
    with open(os.path.join(HERE, "milvus-min.fds"), "wb") as f:
        f.write(trim(src).SerializeToString())


if __name__ == "__main__":
    main()
