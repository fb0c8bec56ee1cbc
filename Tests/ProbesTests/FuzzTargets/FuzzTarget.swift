// Shared by the libFuzzer driver (Fuzz/, which links this folder) and FuzzRegressionTests, so a
// crash found by fuzzing replays through exactly the same code in the ordinary test suite.
@testable import Probes

/// One parser or protocol decoder under fuzzing. `run` throws when an invariant beyond "no crash"
/// breaks; a crash or hang is caught by the fuzzer (or kills the test) on its own.
struct FuzzTarget: Sendable {
    let name: String
    let run: @Sendable ([UInt8]) throws -> Void
}

struct InvariantViolation: Error, CustomStringConvertible {
    let description: String
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw InvariantViolation(description: message()) }
}

/// Text parsers get the bytes as a tool or peer would have sent them: possibly not UTF-8.
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

enum FuzzTargets {
    /// Adding a target: copy a file in this folder, rename the target, add it here.
    static let all: [FuzzTarget] = [
        nft, iptables, netstat, services, desktopFirewalls, ssdp, http, xml, natpmp, stun, reflector,
        procNet, route, sockDiag, pairing, pcp, soap,
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Questions every firewall parser is asked, so the rules are walked, not only read.
/// An IPv6 question (not loopback) is answered for neighbour discovery too, whatever the rules; an
/// IPv4 one never is (ARP does not pass the input hook).
func requireNeighbourDiscovery(_ v: FirewallVerdict, _ q: FirewallQuestion) throws {
    try require(
        (v.neighbourDiscovery != nil) == NeighbourDiscoveryPacket.applies(to: q),
        "neighbour discovery \(v.neighbourDiscovery == nil ? "missing" : "answered") for \(q.remote ?? "?")")
}

let fuzzQuestions: [FirewallQuestion] = [
    FirewallQuestion(direction: .inbound, proto: .tcp, port: 22, remote: "192.0.2.7"),
    FirewallQuestion(direction: .inbound, proto: .udp, port: 5351, remote: "2001:db8::7", program: "/usr/bin/app"),
    FirewallQuestion(direction: .outbound, proto: .tcp, port: 4242, remote: "198.51.100.1", interface: "lo"),
]
