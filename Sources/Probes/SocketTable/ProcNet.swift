#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Linux's /proc/net/{tcp,tcp6,udp,udp6}: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`.
/// Addresses are hex words in host byte order ("0100007F:10F2" is 127.0.0.1:4338).
public enum ProcNet {
    static let tcpStates: [String: String] = [
        "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
        "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
        "0C": "NEW_SYN_RECV",
    ]

    /// Parses one file's text. Lines that do not parse (truncated, garbled) are skipped.
    public static func parse(
        _ text: String, proto: SocketEntry.Proto, family: SocketAddress.Family,
        dualStack: Bool? = nil
    ) -> [SocketEntry] {
        var entries: [SocketEntry] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 10, let local = address(f[1], family), let remote = address(f[2], family),
                let inode = UInt64(f[9])
            else { continue }
            let code = String(f[3]).uppercased()
            let state: String
            if proto == .tcp {
                guard let s = tcpStates[code] else { continue }
                state = s
            } else {
                state = code == "01" ? "ESTABLISHED" : "UNCONN"
            }
            let remoteShown = remote.port == 0 && SocketEntry.scope(of: remote.ip) == .wildcard ? nil : remote
            var entry = SocketEntry(
                proto: proto, family: family, state: state, local: local, remote: remoteShown,
                inode: inode)
            if family == .ipv6 && entry.scope == .wildcard { entry.dualStack = dualStack }
            entry.uid = UInt32(f[7])
            entries.append(entry)
        }
        return entries
    }

    static func address(_ field: Substring, _ family: SocketAddress.Family) -> SocketAddress? {
        let parts = field.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1], radix: 16) else { return nil }
        let hex = parts[0]
        let words = family == .ipv4 ? 1 : 4
        guard hex.count == 8 * words else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        for _ in 0..<words {
            let next = hex.index(index, offsetBy: 8)
            guard let word = UInt32(hex[index..<next], radix: 16) else { return nil }
            withUnsafeBytes(of: word) { bytes += $0 }  // host order, as the kernel printed it
            index = next
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = bytes.withUnsafeBytes {
            inet_ntop(family == .ipv4 ? AF_INET : AF_INET6, $0.baseAddress, &text, socklen_t(text.count))
        }
        guard ok != nil else { return nil }
        return SocketAddress(
            family: family, ip: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            port: port)
    }
}
