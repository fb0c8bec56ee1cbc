@testable import Probes

extension FuzzTargets {
    /// /proc/net/{tcp,tcp6,udp,udp6}: the first byte picks the table.
    static let procNet = FuzzTarget(name: "proc-net") { bytes in
        guard let first = bytes.first else { return }
        let input = text(Array(bytes.dropFirst()))
        let entries = ProcNet.parse(
            input, proto: first & 1 == 0 ? .tcp : .udp, family: first & 2 == 0 ? .ipv4 : .ipv6, dualStack: true)
        let lines = input.split(separator: "\n").count
        try require(entries.count < max(lines, 1), "\(entries.count) sockets from \(lines) lines (one is the header)")
        for e in entries {
            try require(
                SocketAddress(numeric: e.local.ip, port: e.local.port) != nil, "local \(e.local.ip) is no address")
        }
    }
}
