/// Saved reports (the JSON `run --format json` writes, trimmed to what matters) for the path
/// picture's tests: each a situation a person meets, with the evidence the bundled packs give.
enum PathFixtures {
    /// The destination's own firewall drops the port: the reflector's connect back timed out.
    static let firewallDrops = #"""
        {"schema": 3, "pack": "crashplan", "version": "0.1.0", "title": "Connections between computers (CrashPlan)",
         "platform": "linux", "vendor": null, "started_at": "2026-11-26T04:02:04Z",
         "system": {"os": "linux", "version": "6.8.0", "arch": "x86_64"},
         "parameters": {"peer": "backup.example.net", "port": "4242", "role": "destination"},
         "parameter_sources": {"peer": "command-line", "port": "default", "role": "default"},
         "checks": [
          {"id": "firewall", "title": "The firewall lets the port in", "status": "fail",
           "summary": "incoming TCP 4242 is dropped by nftables", "cause": "firewall-blocks-inbound",
           "advice": ["sudo nft add rule inet filter input tcp dport 4242 accept"],
           "evidence": {"decision": "drop", "tool": "nftables", "rule": "inet filter input handle 7: drop"},
           "repairs": [], "next": null, "origin": "crashplan", "duration_ms": 3, "error": null, "output": null},
          {"id": "port-forward", "title": "The router forwards the port", "status": "skip",
           "summary": "the firewall is in the way", "cause": null, "advice": [],
           "evidence": {"local_addresses": ["192.168.1.20"], "default_gateway": "192.168.1.1", "hops": ["192.168.1.1"],
                        "router_wan": "198.51.100.7", "public_address": "198.51.100.7:40312", "connect_back": "timeout"},
           "repairs": [], "next": null, "origin": "crashplan", "duration_ms": 900, "error": null, "output": null}
         ],
         "summary": {"pass": 0, "warn": 0, "fail": 1, "error": 0, "skip": 1}, "exit_code": 1,
         "primary": {"check": "firewall", "cause": "firewall-blocks-inbound", "first_step": "sudo nft add rule inet filter input tcp dport 4242 accept"},
         "also": [], "duration_ms": 1200}
        """#

    /// Two routers of the person's own: the home router's WAN is private, the next hop too.
    static let doubleNAT = #"""
        {"schema": 3, "pack": "crashplan", "version": "0.1.0", "title": "Connections between computers (CrashPlan)",
         "platform": "linux", "parameters": {"peer": "peer.example.net", "port": "4242", "role": "destination"},
         "checks": [
          {"id": "firewall", "title": "The firewall lets the port in", "status": "pass", "summary": "allowed",
           "evidence": {"decision": "allow", "tool": "nftables", "rule": "no input chain"}},
          {"id": "port-forward", "title": "The router forwards the port", "status": "fail",
           "summary": "two routers translate addresses", "cause": "double-nat",
           "advice": ["Forward TCP 4242 on the outer router too, to 10.0.0.2"],
           "evidence": {"local_addresses": ["192.168.1.20"], "default_gateway": "192.168.1.1",
                        "hops": ["192.168.1.1", "10.0.0.1", "203.0.113.1"], "router_wan": "10.0.0.2",
                        "public_address": "203.0.113.50:41000", "connect_back": "refused"}}
         ],
         "primary": {"check": "port-forward", "cause": "double-nat", "first_step": "Forward TCP 4242 on the outer router too"},
         "also": []}
        """#

    /// This computer sends; the other one answers but nothing listens there.
    static let peerRefuses = #"""
        {"schema": 3, "pack": "crashplan", "version": "0.1.0", "title": "Connections between computers (CrashPlan)",
         "platform": "linux", "parameters": {"peer": "203.0.113.7", "port": "4242", "role": "source"},
         "checks": [
          {"id": "firewall", "title": "The firewall lets the port out", "status": "pass", "summary": "allowed",
           "evidence": {"decision": "allow", "tool": "nftables", "rule": "no output chain"}},
          {"id": "reach-peer", "title": "Connect to the other computer", "status": "fail",
           "summary": "could not connect to 203.0.113.7:4242: refused", "cause": "no-listener",
           "advice": ["The other computer answered but nothing listens on 4242 there."],
           "evidence": {"status": "refused", "errno": 111, "host": "203.0.113.7", "port": 4242,
                        "local": {"ip": "192.168.1.20", "port": 51000, "text": "192.168.1.20:51000"},
                        "remote": {"ip": "203.0.113.7", "port": 4242, "text": "203.0.113.7:4242"}}}
         ],
         "primary": {"check": "reach-peer", "cause": "no-listener", "first_step": "The other computer answered"},
         "also": []}
        """#

    /// Behind the provider's NAT, and the service is down too: two marks.
    static let cgnatAndServiceDown = #"""
        {"schema": 3, "pack": "crashplan", "version": "0.1.0", "title": "Connections between computers (CrashPlan)",
         "platform": "linux", "parameters": {"peer": "10.231.62.2", "port": "4242", "role": "destination"},
         "checks": [
          {"id": "service", "title": "The backup service runs", "status": "fail", "summary": "crashplan is down",
           "cause": "service-not-running", "advice": ["sudo sv start crashplan"],
           "evidence": {"installed": true, "manager": "runit", "name": "crashplan", "running": false}},
          {"id": "firewall", "title": "The firewall lets the port in", "status": "pass", "summary": "allowed",
           "evidence": {"decision": "allow", "tool": "nftables", "rule": "no input chain"}},
          {"id": "port-forward", "title": "The router forwards the port", "status": "fail",
           "summary": "the provider shares one public address", "cause": "cgnat",
           "advice": ["Ask the provider for a public address"],
           "evidence": {"local_addresses": ["10.231.60.2"], "default_gateway": "10.231.60.1",
                        "hops": ["10.231.60.1", "100.64.63.1"], "router_wan": "100.64.63.2",
                        "public_address": "10.231.62.1:40000", "connect_back": "timeout"}}
         ],
         "primary": {"check": "service", "cause": "service-not-running", "first_step": "sudo sv start crashplan"},
         "also": [{"check": "port-forward", "cause": "cgnat", "summary": "the provider shares one public address",
                   "first_step": "Ask the provider for a public address"}]}
        """#

    /// Nothing wrong: the reflector connected back through the forward.
    static let healthy = #"""
        {"schema": 3, "pack": "crashplan", "version": "0.1.0", "title": "Connections between computers (CrashPlan)",
         "platform": "linux", "parameters": {"peer": "10.231.62.2", "port": "4242", "role": "destination"},
         "checks": [
          {"id": "firewall", "title": "The firewall lets the port in", "status": "pass", "summary": "allowed",
           "evidence": {"decision": "allow", "tool": "nftables", "rule": "no input chain"}},
          {"id": "port-forward", "title": "The router forwards the port", "status": "pass",
           "summary": "the router forwards TCP 4242 here",
           "evidence": {"local_addresses": ["10.231.60.2"], "default_gateway": "10.231.60.1", "hops": ["10.231.60.1"],
                        "router_wan": "10.231.61.1", "public_address": "10.231.61.1:40000", "connect_back": "connected"}}
         ],
         "primary": null, "also": []}
        """#

    /// A pack's own cause, and no evidence of the way out: nothing is guessed.
    static let unknownCause = #"""
        {"schema": 3, "pack": "mine", "version": "1.0", "title": "My service", "platform": "linux",
         "parameters": {"port": "8080"},
         "checks": [
          {"id": "license", "title": "The licence is valid", "status": "fail", "summary": "the licence expired",
           "cause": "license-expired", "advice": ["Renew it"], "evidence": null}
         ],
         "primary": {"check": "license", "cause": "license-expired", "first_step": "Renew it"}, "also": []}
        """#

    static let all: [(name: String, json: String)] = [
        ("firewall-drops", firewallDrops), ("double-nat", doubleNAT), ("peer-refuses", peerRefuses),
        ("cgnat-and-service-down", cgnatAndServiceDown), ("healthy", healthy), ("unknown-cause", unknownCause),
    ]
}
