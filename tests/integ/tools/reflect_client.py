#!/usr/bin/python3
"""reflect_client.py - use a daemon's server reflection as grpcurl would,
with Debian's python3-grpcio and stubs generated at test time from the
vendored proto/reflection.proto only (Debian 12 has no grpc_reflection):
itm.proto is never read.

    reflect_client.py REFLECTION_PROTO OUTDIR ADDR SERVICE METHOD

Prints one line per step: "STEP RESULT".  Steps: the services listed
(v1alpha and v1), the files that come with SERVICE, a real call of
SERVICE/METHOD (empty request) with message classes built from those
descriptors, the answers to bad requests, all in one stream where the
protocol allows it.
"""
import faulthandler
import os
import sys
import threading

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format
from google.protobuf import message_factory
from grpc_tools import protoc

V1ALPHA = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def gen_stubs(proto, out):
    inc = os.path.dirname(os.path.abspath(proto))
    args = ["protoc", "-I" + inc, "--python_out=" + out,
            os.path.abspath(proto)]
    if protoc.main(args) != 0:
        sys.exit("reflect_client: protoc failed")
    sys.path.insert(0, out)


def stream(channel, path, pb, requests):
    """One ServerReflectionInfo stream: @requests in, the answers out."""
    call = channel.stream_stream(
        path, request_serializer=pb.ServerReflectionRequest.SerializeToString,
        response_deserializer=pb.ServerReflectionResponse.FromString)
    return list(call(iter(requests), timeout=10))


def answer(rep):
    kind = rep.WhichOneof("message_response")
    if kind == "list_services_response":
        return " ".join(sorted(s.name for s in rep.list_services_response.service))
    if kind == "file_descriptor_response":
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in rep.file_descriptor_response.file_descriptor_proto]
        return " ".join(f.name for f in files)
    if kind == "error_response":
        names = {c.value[0]: c.name for c in grpc.StatusCode}
        e = rep.error_response
        return "error %s %s" % (names[e.error_code], e.error_message)
    return "?" + str(kind)


def build_pool(rep):
    """A descriptor pool from the answer's files, imports first."""
    pool = descriptor_pool.DescriptorPool()
    todo = [descriptor_pb2.FileDescriptorProto.FromString(b)
            for b in rep.file_descriptor_response.file_descriptor_proto]
    done = set()
    while todo:
        f = next(f for f in todo if set(f.dependency) <= done)
        pool.Add(f)
        done.add(f.name)
        todo.remove(f)
    return pool


def message_class(desc):
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)


def real_call(channel, pool, service, method):
    m = pool.FindServiceByName(service).FindMethodByName(method)
    req_cls, rep_cls = message_class(m.input_type), message_class(m.output_type)
    call = channel.unary_unary("/%s/%s" % (service, method),
                               request_serializer=req_cls.SerializeToString,
                               response_deserializer=rep_cls.FromString)
    rep = call(req_cls(), timeout=10)
    return "%s %s" % (m.output_type.full_name,
                      json_format.MessageToJson(rep, indent=None))


def main():
    proto, out, addr, service, method = sys.argv[1:6]
    # A hang shows where it is (every thread's stack) and fails the test.
    faulthandler.dump_traceback_later(40, exit=True)
    gen_stubs(proto, out)
    import reflection_pb2 as pb
    ch = grpc.insecure_channel(addr)
    R = pb.ServerReflectionRequest
    reps = stream(ch, V1ALPHA, pb, [
        R(list_services="*"),
        R(file_containing_symbol=service),
        R(file_containing_symbol=service + "." + method),
        R(file_by_filename="health.proto"),
        R(file_containing_symbol="itm.v1.Nope"),
        R(file_by_filename="nope.proto"),
        R(file_containing_extension=pb.ExtensionRequest(
            containing_type=service, extension_number=1)),
        R(all_extension_numbers_of_type=service),
        R(host="h"),
        R(list_services=""),
    ])
    steps = ["list", "symbol", "method", "filename", "bad-symbol",
             "bad-filename", "extension", "extension-numbers", "empty",
             "list-again"]
    for step, rep in zip(steps, reps):
        print(step, answer(rep))
    print("answers", len(reps))
    print("call", real_call(ch, build_pool(reps[1]), service, method))
    v1 = stream(ch, V1, pb, [R(list_services="")])
    print("v1-list", answer(v1[0]))
    # A client that goes away in the middle of a stream.
    call = ch.stream_stream(
        V1ALPHA,
        request_serializer=pb.ServerReflectionRequest.SerializeToString,
        response_deserializer=pb.ServerReflectionResponse.FromString)
    hold = threading.Event()

    def one_then_wait():
        yield R(list_services="")
        hold.wait(10)  # the stream stays open, not half-closed

    gone = call(one_then_wait(), timeout=10)
    print("abandon", answer(next(gone)).split()[0])
    gone.cancel()
    hold.set()
    # Bytes that are no ServerReflectionRequest end the stream.
    raw = ch.stream_stream(V1ALPHA, request_serializer=None,
                           response_deserializer=None)
    try:
        list(raw(iter([b"\x3a\xff\xff"]), timeout=10))
        print("garbage OK")
    except grpc.RpcError as e:
        print("garbage", e.code().name, e.details())
    ch.close()
    sys.stdout.flush()
    # grpcio can hang at interpreter exit after a cancelled stream (seen
    # once under load): everything is printed, leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
