#!/usr/bin/env python3
"""topo_plan.py TOPO.yaml - the lab plan of an overlay described by a
topo.yaml, for deploy/lab/lab.sh (up --topo).

The controller checks the file's schema (itmctl topology apply --dry-run);
this script checks only what the lab itself needs to make the addresses
real, and reports every such fault at once, as FILE:LINE: field: what:

  - every mgmt is IPV4:PORT and every overlay and underlay an IPv4
    address, all in 10.0.0.0/8, so that they can only ever exist inside
    the lab (underlay defaults to the mgmt address's IP, as for the
    controller);
  - the mgmt addresses share one /24 (the management bridge) with a free
    address left for the controller, and no overlay address lies in it;
  - no address is used twice (a node's underlay may be its own mgmt IP).

On success it prints one line per item, for the shell:

  ctl     CTL_IP PREFIXLEN                    the controller on the bridge
  spare   IP...                               the next free mgmt addresses
                                              (down from CTL_IP, up to 4:
                                              --ha's etcd members and
                                              second controller)
  node    NAME MGMT_IP PORT OVERLAY UNDERLAY
  link    A B RATE|- LATENCY_MS|-             RATE in tc units (kbit)
  route   NODE DEST NEXTHOP_NODE NEXTHOP_IP   shortest path by link cost
  pair    A B DELAY_MS                        the underlay's one-way delay
  module  NODE NAME [KEY=VALUE...]            modules the file places
  comment TEXT

The underlay's delay between two nodes (every pair, A before B in file
order) is the latency_ms of a link between them when the file declares
one, else the sum of latency_ms along the path of least total latency
(0 when no path): so the direct path is never slower than a detour unless
a declared link says so.

Exit status: 0 plan printed, 2 faults (printed on stderr), 1 unreadable.
"""
import heapq
import ipaddress
import re
import sys

try:
    import yaml
except ImportError:
    sys.exit("topo_plan.py: python3-yaml is missing "
             "(run deploy/install-deps.sh)")

LAB_NET = ipaddress.ip_network("10.0.0.0/8")
UNITS = {"kbit": 1, "mbit": 1000, "gbit": 1000000, "tbit": 1000000000}


class LineLoader(yaml.SafeLoader):
    """Mappings remember the line of each value: m["__lines__"][key]."""

    def construct_mapping(self, node, deep=False):
        m = super().construct_mapping(node, deep=deep)
        m["__lines__"] = {self.construct_object(k, deep=deep):
                          v.start_mark.line + 1 for k, v in node.value}
        m["__line__"] = node.start_mark.line + 1
        return m


def line_of(m, key=None):
    if not isinstance(m, dict):
        return 0
    return m["__lines__"].get(key, m["__line__"]) if key else m["__line__"]


class Plan:
    def __init__(self, path):
        self.path = path
        self.faults = []
        self.nodes = {}         # name -> (mgmt_ip, port, overlay_ip, underlay)
        self.order = []
        self.links = []         # (a, b, cost, kbit|None, latency|None)
        self.modules = []       # (node, name, [k=v])
        self.where = {}         # name -> (index, mapping)

    def fault(self, line, field, what):
        self.faults.append((line, "%s:%d: %s: %s" % (self.path, line, field,
                                                     what)))

    def node_fault(self, name, key, what):
        i, n = self.where[name]
        self.fault(line_of(n, key), "nodes[%d].%s" % (i, key), what)


def lab_ip(plan, line, field, text):
    """An IPv4 address inside 10.0.0.0/8, or None (fault reported)."""
    try:
        ip = ipaddress.ip_address(str(text))
    except ValueError:
        plan.fault(line, field, "the lab needs an IPv4 address, got %r"
                   % text)
        return None
    if ip.version != 4 or ip not in LAB_NET:
        plan.fault(line, field, "%s is not in 10.0.0.0/8: the lab only "
                   "makes private 10.x addresses (inside its namespaces)"
                   % ip)
        return None
    return ip


def read_node(plan, i, n):
    field = "nodes[%d]" % i
    if not isinstance(n, dict) or not isinstance(n.get("name"), str):
        plan.fault(line_of(n), field, "a mapping with name, mgmt and "
                   "overlay")
        return
    name = n["name"]
    mgmt = str(n.get("mgmt", ""))
    m = re.fullmatch(r"([0-9.]+):([0-9]{1,5})", mgmt)
    if not m:
        plan.fault(line_of(n, "mgmt"), field + ".mgmt", "the lab needs "
                   "IPV4:PORT, got %r" % mgmt)
        ip = None
    else:
        ip = lab_ip(plan, line_of(n, "mgmt"), field + ".mgmt", m.group(1))
    overlay = lab_ip(plan, line_of(n, "overlay"), field + ".overlay",
                     n.get("overlay", ""))
    underlay = ip
    if "underlay" in n:
        underlay = lab_ip(plan, line_of(n, "underlay"), field + ".underlay",
                          n["underlay"])
    if ip is None or overlay is None or underlay is None:
        return
    if name in plan.nodes:
        plan.fault(line_of(n, "name"), field + ".name", "duplicate node %r"
                   % name)
        return
    plan.nodes[name] = (ip, int(m.group(2)), overlay, underlay)
    plan.where[name] = (i, n)
    plan.order.append(name)
    for j, mod in enumerate(n.get("modules") or []):
        if not isinstance(mod, dict) or "name" not in mod:
            continue
        params = []
        for k, v in (mod.get("params") or {}).items():
            if k.startswith("__line"):
                continue
            if isinstance(v, list):
                v = ",".join(str(x) for x in v)
            params.append("%s=%s" % (k, v))
        plan.modules.append((name, str(mod["name"]), params))


def kbit(text):
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([kmgt]bit)", str(text).lower())
    if not m:
        return None
    return max(1, int(round(float(m.group(1)) * UNITS[m.group(2)])))


def read_link(plan, i, l):
    field = "links[%d]" % i
    if not isinstance(l, dict):
        plan.fault(line_of(l), field, "a mapping with between: [a, b]")
        return
    ends = l.get("between")
    if not isinstance(ends, list) or len(ends) != 2:
        plan.fault(line_of(l, "between"), field + ".between",
                   "must name two nodes")
        return
    a, b = (str(e) for e in ends)
    for e in (a, b):
        if e not in plan.nodes:
            plan.fault(line_of(l, "between"), field + ".between",
                       "node %r is unknown or has faults above" % e)
    if a not in plan.nodes or b not in plan.nodes or a == b:
        return
    cost, lat, bw = l.get("cost", 1), l.get("latency_ms"), l.get("bandwidth")
    if not isinstance(cost, int) or cost < 1:
        cost = 1                # the controller reports it (--dry-run)
    if not isinstance(lat, int) or lat < 0:
        lat = None
    plan.links.append((a, b, cost, kbit(bw) if bw is not None else None, lat))


def check_addresses(plan):
    """One /24 for mgmt, every address used once; the controller's address."""
    seen = {}
    for name in plan.order:
        mgmt, _, overlay, underlay = plan.nodes[name]
        addrs = [("mgmt", mgmt), ("overlay", overlay)]
        if underlay != mgmt:
            addrs.append(("underlay", underlay))
        for what, ip in addrs:
            if ip in seen:
                plan.node_fault(name, what, "%s is also %s" % (ip, seen[ip]))
            seen[ip] = "the %s of %s" % (what, name)
    if not plan.order:
        return None
    first = plan.order[0]
    net = ipaddress.ip_network("%s/24" % plan.nodes[first][0], strict=False)
    for name in plan.order:
        if plan.nodes[name][0] not in net:
            plan.node_fault(name, "mgmt", "%s is not in %s (the mgmt of %s): "
                            "the lab puts every mgmt address on one "
                            "management bridge, one /24"
                            % (plan.nodes[name][0], net, first))
        if plan.nodes[name][2] in net:
            plan.node_fault(name, "overlay", "%s lies in the management "
                            "network %s" % (plan.nodes[name][2], net))
    free = [ip for ip in reversed(list(net.hosts())) if ip not in seen]
    if free:
        return free[0], net.prefixlen, free[1:5]
    plan.node_fault(first, "mgmt", "no address left in %s for the "
                    "controller" % net)
    return None


def next_hops(plan, src):
    """{dest: first hop} along the cheapest paths from src (Dijkstra;
    ties broken by node name, so the plan is the same on every run)."""
    adj = {n: [] for n in plan.order}
    for a, b, cost, _, _ in plan.links:
        adj[a].append((cost, b))
        adj[b].append((cost, a))
    best = {src: (0, src)}
    heap = [(0, src, src)]
    done = set()
    while heap:
        d, node, first = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        for cost, peer in sorted(adj[node]):
            hop = peer if node == src else first
            cand = (d + cost, hop)
            if peer not in best or cand < best[peer]:
                best[peer] = cand
                heapq.heappush(heap, (d + cost, peer, hop))
    return {n: best[n][1] for n in best if n != src}


def pair_delays(plan):
    """{(a, b): one-way ms} for every pair, a before b in file order."""
    adj = {n: [] for n in plan.order}
    declared = {}
    for a, b, _, _, lat in plan.links:
        adj[a].append((lat or 0, b))
        adj[b].append((lat or 0, a))
        declared[frozenset((a, b))] = lat or 0
    out = {}
    for i, src in enumerate(plan.order):
        dist = {src: 0}
        heap = [(0, src)]
        while heap:
            d, node = heapq.heappop(heap)
            if d > dist[node]:
                continue
            for lat, peer in adj[node]:
                if peer not in dist or d + lat < dist[peer]:
                    dist[peer] = d + lat
                    heapq.heappush(heap, (d + lat, peer))
        for dst in plan.order[i + 1:]:
            key = frozenset((src, dst))
            out[(src, dst)] = declared.get(key, dist.get(dst, 0))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: topo_plan.py TOPO.yaml")
    path = sys.argv[1]
    try:
        with open(path) as f:
            topo = yaml.load(f, Loader=LineLoader)
    except (OSError, yaml.YAMLError) as e:
        print("%s: %s" % (path, e), file=sys.stderr)
        sys.exit(1)
    plan = Plan(path)
    if not isinstance(topo, dict) or not isinstance(topo.get("nodes"), list):
        plan.fault(line_of(topo) if isinstance(topo, dict) else 1, "nodes",
                   "the file has no list of nodes")
        topo = {}
    for i, n in enumerate(topo.get("nodes") or []):
        read_node(plan, i, n)
    for i, l in enumerate(topo.get("links") or []):
        read_link(plan, i, l)
    ctl = check_addresses(plan)
    if plan.faults:
        for _, f in sorted(plan.faults, key=lambda f: f[0]):
            print(f, file=sys.stderr)
        sys.exit(2)
    if topo.get("comment"):
        print("comment", " ".join(str(topo["comment"]).split()))
    print("ctl", ctl[0], ctl[1])
    print("spare", *ctl[2])
    for name in plan.order:
        mgmt, port, overlay, underlay = plan.nodes[name]
        print("node", name, mgmt, port, overlay, underlay)
    for a, b, _, kb, lat in plan.links:
        print("link", a, b, "%dkbit" % kb if kb else "-",
              lat if lat else "-")
    for name in plan.order:
        for dest, hop in sorted(next_hops(plan, name).items()):
            print("route", name, plan.nodes[dest][2], hop, plan.nodes[hop][2])
    for (a, b), ms in pair_delays(plan).items():
        print("pair", a, b, ms)
    for node, name, params in plan.modules:
        print("module", node, name, *params)


if __name__ == "__main__":
    main()
