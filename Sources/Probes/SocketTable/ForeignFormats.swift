/// Parsers for other systems' socket tables, so the same checks work there. Pure functions over
/// text; the platform runs the tool and hands its output here.
public enum NetstatParsers {
    // MARK: macOS `netstat -anv -p tcp|udp`

    /// Columns are found from the header (they move between macOS releases); addresses are
    /// "127.0.0.1.4243", "*.4242", "::1.4243", "fe80::1%lo0.5353"; `tcp46` is a dual-stack socket.
    public static func macNetstat(_ text: String) -> [SocketEntry] {
        var pidColumn: Int?
        var entries: [SocketEntry] = []
        for raw in text.split(separator: "\n") {
            let f = raw.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = f.first else { continue }
            if first == "Proto" {
                // "Local Address" and "Foreign Address" are two words each in the header.
                let header = f.filter { $0 != "Address" }
                pidColumn = header.firstIndex { $0 == "pid" || $0 == "process:pid" }
                continue
            }
            guard first.hasPrefix("tcp") || first.hasPrefix("udp"), f.count >= 5 else { continue }
            let proto: SocketEntry.Proto = first.hasPrefix("tcp") ? .tcp : .udp
            var fields = f
            if proto == .udp { fields.insert("UNCONN", at: 5) }  // UDP rows have no state column
            guard fields.count >= 6, let local = macAddress(fields[3], v6: first.hasSuffix("6")),
                let foreign = macAddress(fields[4], v6: first.hasSuffix("6"))
            else { continue }
            let state = proto == .udp ? (foreign.port == 0 ? "UNCONN" : "ESTABLISHED") : fields[5]
            var owner: SocketEntry.Owner?
            if let c = pidColumn, c < fields.count {
                let cell = fields[c]
                let pidText = cell.split(separator: ":").last.map(String.init) ?? cell
                if let pid = Int32(pidText), pid > 0 {
                    owner = .init(
                        pid: pid,
                        program: cell.contains(":")
                            ? String(cell.split(separator: ":").dropLast().joined(separator: ":")) : "")
                }
            }
            var e = SocketEntry(
                proto: proto, family: local.family, state: state, local: local,
                remote: foreign.port == 0 ? nil : foreign, owner: owner)
            if first.hasSuffix("46") { e.dualStack = true }
            entries.append(e)
        }
        return entries
    }

    static func macAddress(_ text: String, v6: Bool) -> SocketAddress? {
        guard let dot = text.lastIndex(of: ".") else { return nil }
        var host = String(text[..<dot])
        let portText = text[text.index(after: dot)...]
        let port = portText == "*" ? 0 : UInt16(portText)
        guard let port else { return nil }
        if host == "*" { host = v6 ? "::" : "0.0.0.0" }
        let family: SocketAddress.Family = host.contains(":") || (v6 && host == "::") ? .ipv6 : .ipv4
        return SocketAddress(family: family, ip: host, port: port)
    }

    // MARK: lsof -nP -iTCP -sTCP:LISTEN -F pcnPT

    /// lsof's field output: a `p` (pid) line, a `c` (command) line, then per open file `f`, `P`
    /// (protocol), `n` (name: "*:4242", "[::1]:4243", "a:1->b:2") and `T` lines ("TST=LISTEN").
    public static func lsofFields(_ text: String) -> [SocketEntry] {
        var entries: [SocketEntry] = []
        var pid: Int32 = 0
        var command = ""
        var proto: SocketEntry.Proto = .tcp
        var name: String?
        var state: String?
        func flush() {
            defer { name = nil; state = nil }
            guard let name else { return }
            // Keeping empty parts: a name of just "->" is two empty addresses, not no parts at all.
            let parts = name.split(separator: "->", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let local = lsofAddress(parts[0]) else { return }
            let remote = parts.count > 1 ? lsofAddress(parts[1]) : nil
            let s = state ?? (proto == .udp ? (remote == nil ? "UNCONN" : "ESTABLISHED") : "UNKNOWN")
            entries.append(
                SocketEntry(
                    proto: proto, family: local.family, state: s, local: local, remote: remote,
                    owner: .init(pid: pid, program: command)))
        }
        for line in text.split(separator: "\n") {
            guard let tag = line.first else { continue }
            let value = String(line.dropFirst())
            switch tag {
            case "p":
                flush()
                pid = Int32(value) ?? 0
            case "c": command = value
            case "f": flush()
            case "P": proto = value.uppercased() == "UDP" ? .udp : .tcp
            case "n": name = value
            case "T" where value.hasPrefix("ST="): state = String(value.dropFirst(3))
            default: break
            }
        }
        flush()
        return entries
    }

    static func lsofAddress(_ text: String) -> SocketAddress? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "*" { host = "0.0.0.0" }
        return SocketAddress(family: host.contains(":") ? .ipv6 : .ipv4, ip: host, port: port)
    }

    // MARK: Windows `netstat -ano`

    /// States in the languages Windows ships netstat in most often; anything else is kept as
    /// printed, and a TCP socket whose foreign address is a wildcard is LISTEN whatever its word.
    static let windowsStates: [String: String] = [
        "LISTENING": "LISTEN", "ABHÖREN": "LISTEN", "ESCUCHANDO": "LISTEN", "ESCUTA": "LISTEN", "IN ASCOLTO": "LISTEN",
        "ESTABLISHED": "ESTABLISHED", "HERGESTELLT": "ESTABLISHED", "ESTABLECIDO": "ESTABLISHED",
        "ESTABELECIDA": "ESTABLISHED", "STABILITA": "ESTABLISHED", "ÉTABLIE": "ESTABLISHED",
        "TIME_WAIT": "TIME_WAIT", "WARTEND": "TIME_WAIT", "CLOSE_WAIT": "CLOSE_WAIT", "SCHLIESSEN_WARTEN": "CLOSE_WAIT",
        "SYN_SENT": "SYN_SENT", "SYN_GESENDET": "SYN_SENT", "FIN_WAIT_1": "FIN_WAIT1", "FIN_WAIT_2": "FIN_WAIT2",
        "LAST_ACK": "LAST_ACK", "CLOSED": "CLOSE", "SYN_RECEIVED": "SYN_RECV",
    ]

    /// "  TCP    0.0.0.0:135   0.0.0.0:0   LISTENING   1044"; UDP rows have no state.
    /// Windows does not accept IPv4 on a `[::]` listener (no dual stack by default).
    public static func windowsNetstat(_ text: String) -> [SocketEntry] {
        var entries: [SocketEntry] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingWhitespace
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 4, f[0] == "TCP" || f[0] == "UDP", let pid = Int32(f[f.count - 1]),
                let local = windowsAddress(f[1]), let foreign = windowsAddress(f[2])
            else { continue }
            let proto: SocketEntry.Proto = f[0] == "TCP" ? .tcp : .udp
            let foreignIsWildcard = foreign.port == 0 && SocketEntry.scope(of: foreign.ip) == .wildcard
            var state: String
            if proto == .udp {
                state = foreignIsWildcard ? "UNCONN" : "ESTABLISHED"
            } else {
                // The state may be several words in some languages: everything between foreign and pid.
                let word = f[3..<(f.count - 1)].joined(separator: " ").uppercased()
                state = windowsStates[word] ?? word
                if foreignIsWildcard { state = "LISTEN" }
            }
            var e = SocketEntry(
                proto: proto, family: local.family, state: state, local: local,
                remote: foreignIsWildcard ? nil : foreign, owner: .init(pid: pid, program: ""))
            if local.family == .ipv6 && e.scope == .wildcard { e.dualStack = false }
            entries.append(e)
        }
        return entries
    }

    static func windowsAddress(_ text: String) -> SocketAddress? {
        if text == "*:*" { return SocketAddress(family: .ipv4, ip: "0.0.0.0", port: 0) }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let portText = text[text.index(after: colon)...]
        guard let port = portText == "*" ? 0 : UInt16(portText) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "*" { host = "0.0.0.0" }
        return SocketAddress(family: host.contains(":") ? .ipv6 : .ipv4, ip: host, port: port)
    }
}

extension Substring {
    var trimmingWhitespace: Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !blank($0) }), let end = lastIndex(where: { !blank($0) }) else {
            return ""
        }
        return self[start...end]
    }
}
