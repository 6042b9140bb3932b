#!/usr/bin/python3
"""stock_client.py - drive itm-agent and itm-controller as an outsider would:
with Debian's python3-grpcio and stubs generated from proto/itm.proto by
python3-grpc-tools at test time (nothing of ITM's own client code).

    stock_client.py PROTO OUTDIR AGENT CONTROLLER CASE...

Prints one line per case: "CASE CODE MESSAGE" (CODE is the gRPC status
name, OK on success; MESSAGE with newlines as "\\n").  Cases are named in
CASES below.
"""
import os
import sys

import grpc
from grpc_tools import protoc


def gen_stubs(proto, out):
    inc = os.path.dirname(os.path.abspath(proto))
    for name in (os.path.abspath(proto), os.path.join(inc, "health.proto")):
        args = ["protoc", "-I" + inc, "--python_out=" + out,
                "--grpc_python_out=" + out, name]
        if protoc.main(args) != 0:
            sys.exit("stock_client: protoc failed")
    sys.path.insert(0, out)


def outcome(fn):
    try:
        rep = fn()
        return "OK", rep
    except grpc.RpcError as e:
        return e.code().name, e.details() or ""


def raw_call(channel, path, payload):
    """A unary call with hand-made request bytes (what a stock client sends
    when the text is not valid UTF-8: python's protobuf refuses to)."""
    call = channel.unary_unary(path, request_serializer=None,
                               response_deserializer=None)
    return call(payload, timeout=10)


def main():
    proto, out, agent_addr, ctl_addr = sys.argv[1:5]
    gen_stubs(proto, out)
    import itm_pb2 as pb
    import itm_pb2_grpc as rpc
    import health_pb2 as hpb
    import health_pb2_grpc as hrpc

    agent_ch = grpc.insecure_channel(agent_addr, options=[
        ("grpc.max_send_message_length", 16 << 20)])
    ctl_ch = grpc.insecure_channel(ctl_addr, options=[
        ("grpc.max_send_message_length", 16 << 20)])
    agent = rpc.AgentStub(agent_ch)
    ctl = rpc.ControllerStub(ctl_ch)
    big = "m" * (10 << 20)
    topo_ok = open(os.path.join(out, "topo_ok.yaml")).read()

    agent_health = hrpc.HealthStub(agent_ch)
    ctl_health = hrpc.HealthStub(ctl_ch)

    def check(stub, service):
        rep = stub.Check(hpb.HealthCheckRequest(service=service), timeout=10)
        return hpb.HealthCheckResponse.ServingStatus.Name(rep.status)

    def watch_first(stub, service):
        for rep in stub.Watch(hpb.HealthCheckRequest(service=service),
                              timeout=10):
            return hpb.HealthCheckResponse.ServingStatus.Name(rep.status)
        return "no message"

    def watch_big():
        for _ in agent.WatchStats(pb.WatchStatsRequest(module=big),
                                  timeout=10):
            return "a message"
        return "end"

    cases = {
        "load-nul": lambda: agent.LoadModule(pb.LoadModuleRequest(
            name="qosmod", params=["threshold=7\0garbage"]), timeout=10),
        "load-newline": lambda: agent.LoadModule(pb.LoadModuleRequest(
            name="qosmod\nforged-line: agent owned"), timeout=10),
        "load-bidi": lambda: agent.LoadModule(pb.LoadModuleRequest(
            name="\u202eqosmod"), timeout=10),
        "load-badutf8": lambda: raw_call(
            agent_ch, "/itm.v1.Agent/LoadModule", b"\x0a\x04qo\xffs"),
        "load-octal": lambda: agent.LoadModule(pb.LoadModuleRequest(
            name="qosmod", params=["threshold=010"]), timeout=10),
        "load-blank": lambda: agent.LoadModule(pb.LoadModuleRequest(
            name="qosmod", params=["threshold= 5"]), timeout=10),
        "stats-big": lambda: agent.GetStats(
            pb.StatsRequest(module=big), timeout=10),
        "watch-big": watch_big,
        "apply-nul": lambda: ctl.Apply(pb.ApplyRequest(
            yaml=topo_ok.replace("nodes:", "nodes:\0", 1),
            filename="t.yaml"), timeout=10),
        "apply-filename": lambda: ctl.Apply(pb.ApplyRequest(
            yaml=topo_ok, filename="t.yaml\nforged-line: ctl owned"),
            timeout=10),
        "apply-badutf8": lambda: raw_call(
            ctl_ch, "/itm.v1.Controller/Apply", b"\x0a\x03a\xc0\xaf"),
        "apply-ok": lambda: ctl.Apply(pb.ApplyRequest(
            yaml=topo_ok, filename="t.yaml"), timeout=20),
        "history": lambda: ctl.History(pb.HistoryRequest(), timeout=10),
        "health-agent": lambda: check(agent_health, ""),
        "health-agent-svc": lambda: check(agent_health, "itm.v1.Agent"),
        "health-agent-other": lambda: check(agent_health, "itm.v1.Nope"),
        "health-agent-watch": lambda: watch_first(agent_health, ""),
        "health-ctl": lambda: check(ctl_health, "itm.v1.Controller"),
        "health-ctl-watch": lambda: watch_first(ctl_health, ""),
        "modules": lambda: agent.ListModules(pb.ListModulesRequest(),
                                             timeout=10),
    }
    for name in sys.argv[5:]:
        code, rep = outcome(cases[name])
        if code == "OK":
            text = str(rep).replace("\n", " ") if not isinstance(
                rep, (bytes, str)) else str(rep)
        else:
            text = rep
        print(name, code, text.replace("\n", "\\n")[:300], flush=True)


if __name__ == "__main__":
    main()
