#!/usr/bin/python3
"""json_strict.py PROTO OUTDIR MESSAGE < JSON: parse JSON as itm.v1.MESSAGE
with python3-protobuf's json_format, strictly (no unknown field accepted);
exit 1 with the parser's complaint otherwise."""
import os
import sys

from google.protobuf import json_format
from grpc_tools import protoc

proto, out, name = sys.argv[1:4]
if not os.path.exists(os.path.join(out, "itm_pb2.py")):
    inc = os.path.dirname(os.path.abspath(proto))
    if protoc.main(["protoc", "-I" + inc, "--python_out=" + out,
                    os.path.abspath(proto)]) != 0:
        sys.exit("json_strict: protoc failed")
sys.path.insert(0, out)
import itm_pb2  # noqa: E402

text = sys.stdin.read()
try:
    msg = json_format.Parse(text, getattr(itm_pb2, name)(),
                            ignore_unknown_fields=False)
except json_format.ParseError as e:
    sys.exit("not a %s: %s" % (name, e))
print("ok %s %d bytes" % (name, msg.ByteSize()))
