@testable import Probes

extension FuzzTargets {
    /// One NETLINK_SOCK_DIAG datagram: the first byte picks protocol and family.
    static let sockDiag = FuzzTarget(name: "sock-diag") { bytes in
        #if canImport(Glibc)
            guard let first = bytes.first else { return }
            let datagram = Array(bytes.dropFirst())
            var entries: [SocketEntry] = []
            _ = try? SockDiag.messages(
                datagram, count: datagram.count, proto: first & 1 == 0 ? .tcp : .udp,
                family: first & 2 == 0 ? .ipv4 : .ipv6, into: &entries)
            // A socket takes at least a 16-byte header and a 72-byte inet_diag_msg.
            try require(entries.count <= datagram.count / 88, "\(entries.count) sockets in \(datagram.count) bytes")
        #endif
    }
}
