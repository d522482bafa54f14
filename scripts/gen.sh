#!/usr/bin/env bash
# Regenerate gen/ from proto/: pb2 + grpc stubs + .pyi (mypy-protobuf) under gen/liftos,
# betterproto2 dataclasses under gen/liftos_dc, and gen/liftos/v1/descriptors.binpb: the
# contracts' FileDescriptorSet with their comments (source info), which server reflection
# serves (mesh.runtime.reflection) because the pb2 modules carry no comments.
# Usage: scripts/gen.sh [OUT_DIR] (default gen).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gen}"
py="${PYTHON:-python}"
# protoc finds its plugins (mypy, betterproto2) on PATH: put the interpreter's bin dir first.
export PATH="$(dirname "$(command -v "$py")"):$PATH"
rm -rf "$out/liftos" "$out/liftos_dc"
mkdir -p "$out/liftos_dc"
protos=(proto/liftos/v1/*.proto)
"$py" -m grpc_tools.protoc -I proto \
  --python_out="$out" --grpc_python_out="$out" \
  --mypy_out="$out" --mypy_grpc_out="$out" \
  --include_source_info --descriptor_set_out="$out/liftos/v1/descriptors.binpb" \
  "${protos[@]}" 2> >(grep -v "^Writing" >&2)
# betterproto2 writes a package with relative imports; sync stubs run over grpcio.
"$py" -m grpc_tools.protoc -I proto \
  --python_betterproto2_out="$out/liftos_dc" \
  --python_betterproto2_opt=client_generation=sync \
  "${protos[@]}" 2> >(grep -v "^Writing" >&2)
