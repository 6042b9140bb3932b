#!/usr/bin/python3
"""metrics_hb.py - heartbeats of three shapes from a stock gRPC client, as
process modules of other libitm versions send them, then the agent's
/metrics as it shows them.

    metrics_hb.py PROTO OUTDIR AGENT METRICS_URL

Attaches three registrations (module "hbmod", pid of this process) that
match no traffic, and heartbeats every 200 ms for 1.6 s with:
  old   no latency field (a module from before the field);
  short 5 buckets (a bucket set the agent does not know);
  full  12 buckets 1..12, sum_ns 78000000.
Prints "QUEUE LABEL" per registration, then the /metrics lines of module
"hbmod", then detaches.
"""
import os
import sys
import time
import urllib.request

import grpc
from grpc_tools import protoc


def gen_stubs(proto, out):
    inc = os.path.dirname(os.path.abspath(proto))
    if protoc.main(["protoc", "-I" + inc, "--python_out=" + out,
                    "--grpc_python_out=" + out,
                    os.path.abspath(proto)]) != 0:
        sys.exit("metrics_hb: protoc failed")
    sys.path.insert(0, out)


def main():
    proto, out, agent_addr, url = sys.argv[1:5]
    gen_stubs(proto, out)
    import itm_pb2 as pb
    import itm_pb2_grpc as rpc

    agent = rpc.AgentStub(grpc.insecure_channel(agent_addr))
    shapes = {"old": None,
              "short": pb.VerdictLatency(buckets=[1, 2, 3, 4, 5]),
              "full": pb.VerdictLatency(buckets=list(range(1, 13)),
                                        sum_ns=78000000)}
    lats = []
    leases = {}
    for label in shapes:
        rep = agent.Attach(pb.AttachRequest(
            label="hb-" + label, hook=pb.HOOK_IP_FORWARD, pid=os.getpid(),
            module="hbmod", interest=pb.Interest(
                protocols=[253], daddr=["192.0.2.1/32"])), timeout=10)
        leases[label] = rep.lease
        print(rep.queue, label)
    regs = []
    for label, lat in shapes.items():
        regs.append(pb.RegistrationStats(label="hb-" + label,
                                         hook=pb.HOOK_IP_FORWARD))
        if lat is not None:
            lat.lease = leases[label]
            lats.append(lat)
    hb = pb.HeartbeatRequest(
        pid=os.getpid(), leases=list(leases.values()),
        stats=pb.ModuleStats(module="hbmod", kind="process",
                             registrations=regs),
        latencies=lats)
    for _ in range(8):
        rep = agent.Heartbeat(hb, timeout=10)
        if rep.unknown_leases:
            sys.exit("metrics_hb: leases unknown to the agent")
        time.sleep(0.2)
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    for line in text.splitlines():
        if 'module="hbmod"' in line:
            print(line)
    for lease in leases.values():
        agent.Detach(pb.DetachRequest(lease=lease), timeout=10)


if __name__ == "__main__":
    main()
