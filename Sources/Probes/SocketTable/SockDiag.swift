#if canImport(Glibc)
    import Glibc

    /// Linux's NETLINK_SOCK_DIAG (what `ss` uses): the kernel filters by state and port, so asking
    /// about one port does not mean reading every socket. The structures below are the kernel's
    /// stable ABI (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h), laid out by hand
    /// because those headers do not import into Swift.
    public enum SockDiag {
        struct Failure: Error { var errno: Int32 }

        static let NETLINK_SOCK_DIAG: Int32 = 4
        static let SOCK_DIAG_BY_FAMILY: UInt16 = 20
        static let NLM_F_REQUEST: UInt16 = 0x1
        static let NLM_F_DUMP: UInt16 = 0x300
        static let NLMSG_ERROR: UInt16 = 2
        static let NLMSG_DONE: UInt16 = 3
        static let INET_DIAG_REQ_BYTECODE: UInt16 = 1
        static let INET_DIAG_SKV6ONLY: UInt16 = 11
        static let INET_DIAG_BC_S_GE: UInt8 = 2
        static let INET_DIAG_BC_S_LE: UInt8 = 3

        static let tcpStateNames: [UInt8: String] = [
            1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
            7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
        ]

        /// Sockets matching the query, or an error when sock_diag is not there (then use /proc).
        public static func list(_ query: SocketQuery) throws -> [SocketEntry] {
            let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_SOCK_DIAG)
            guard fd >= 0 else { throw Failure(errno: errno) }
            defer { close(fd) }
            var entries: [SocketEntry] = []
            for proto in SocketEntry.Proto.allCases where query.protocols.contains(proto) {
                for family in [SocketAddress.Family.ipv4, .ipv6] {
                    entries += try dump(fd, proto: proto, family: family, query: query)
                }
            }
            return entries
        }

        private static func stateMask(_ query: SocketQuery, proto: SocketEntry.Proto) -> UInt32 {
            guard let states = query.states else { return 0xFFF }
            var mask: UInt32 = 0
            for (code, name) in tcpStateNames where states.contains(name) { mask |= 1 << UInt32(code) }
            if proto == .udp {
                if states.contains("UNCONN") { mask |= 1 << 7 }  // UDP sockets without a peer are TCP_CLOSE
                if states.contains("ESTABLISHED") { mask |= 1 << 1 }
            }
            return mask
        }

        private static func dump(
            _ fd: Int32, proto: SocketEntry.Proto, family: SocketAddress.Family,
            query: SocketQuery
        ) throws -> [SocketEntry] {
            // nlmsghdr (16) + inet_diag_req_v2 (56) [+ rtattr (4) + two filter conditions (16)]
            var request = [UInt8]()
            func u8(_ v: UInt8) { request.append(v) }
            func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { request += $0 } }
            func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { request += $0 } }
            let filtered = query.port != nil
            let length = 16 + 56 + (filtered ? 4 + 16 : 0)
            u32(UInt32(length)); u16(SOCK_DIAG_BY_FAMILY); u16(NLM_F_REQUEST | NLM_F_DUMP); u32(1); u32(0)
            u8(UInt8(family == .ipv4 ? AF_INET : AF_INET6))
            u8(UInt8(proto == .tcp ? IPPROTO_TCP : IPPROTO_UDP))
            u8(0); u8(0)
            u32(stateMask(query, proto: proto))
            request += [UInt8](repeating: 0, count: 48)  // inet_diag_sockid: match everything
            if let port = query.port {
                // "sport >= P and sport <= P": each condition is {code, yes, no} then {0, 0, port};
                // a jump past the end rejects the socket.
                u16(20); u16(INET_DIAG_REQ_BYTECODE)
                u8(INET_DIAG_BC_S_GE); u8(8); u16(20); u8(0); u8(0); u16(port)
                u8(INET_DIAG_BC_S_LE); u8(8); u16(12); u8(0); u8(0); u16(port)
            }
            // sockaddr_nl { family: u16, pad: u16, pid: u32 (0 = the kernel), groups: u32 }
            var kernel = [UInt8](repeating: 0, count: 12)
            withUnsafeBytes(of: UInt16(AF_NETLINK)) { kernel.replaceSubrange(0..<2, with: $0) }
            let sent = request.withUnsafeBytes { bytes in
                kernel.withUnsafeBytes {
                    sendto(
                        fd, bytes.baseAddress, bytes.count, 0, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                        12)
                }
            }
            guard sent == request.count else { throw Failure(errno: errno) }

            var entries: [SocketEntry] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { throw Failure(errno: errno) }
                if try messages(buffer, count: n, proto: proto, family: family, into: &entries) { return entries }
            }
        }

        /// The netlink messages in the first `n` bytes of one datagram, appended to `entries`; true
        /// once the dump is done. Apart from the fuzz target, only the kernel writes these bytes.
        static func messages(
            _ buffer: [UInt8], count n: Int, proto: SocketEntry.Proto, family: SocketAddress.Family,
            into entries: inout [SocketEntry]
        ) throws -> Bool {
            var offset = 0
            while offset + 16 <= n {
                let len = Int(read32(buffer, offset))
                let type = read16(buffer, offset + 4)
                guard len >= 16, offset + len <= n else { break }
                if type == NLMSG_DONE { return true }
                if type == NLMSG_ERROR {
                    guard offset + 20 <= n else { throw Failure(errno: EPROTO) }
                    let code = Int32(bitPattern: read32(buffer, offset + 16))
                    if code == 0 { return true }
                    throw Failure(errno: code == .min ? EPROTO : -code)  // -Int32.min would trap
                }
                if let e = entry(buffer, offset + 16, end: offset + len, proto: proto, family: family) {
                    entries.append(e)
                }
                offset += (len + 3) & ~3
            }
            return false
        }

        /// One inet_diag_msg (72 bytes) and its attributes.
        private static func entry(
            _ b: [UInt8], _ o: Int, end: Int, proto: SocketEntry.Proto,
            family: SocketAddress.Family
        ) -> SocketEntry? {
            guard o + 72 <= end else { return nil }
            let stateCode = b[o + 1]
            let sport = UInt16(b[o + 4]) << 8 | UInt16(b[o + 5])
            let dport = UInt16(b[o + 6]) << 8 | UInt16(b[o + 7])
            let addressLength = family == .ipv4 ? 4 : 16
            guard let local = address(Array(b[(o + 8)..<(o + 8 + addressLength)]), family, sport),
                let remote = address(Array(b[(o + 24)..<(o + 24 + addressLength)]), family, dport)
            else { return nil }
            let inode = UInt64(read32(b, o + 68))
            let state: String
            if proto == .tcp {
                guard let s = tcpStateNames[stateCode] else { return nil }
                state = s
            } else {
                state = stateCode == 1 ? "ESTABLISHED" : "UNCONN"
            }
            var v6only: Bool?
            var a = o + 72
            while a + 4 <= end {
                let alen = Int(read16(b, a))
                let atype = read16(b, a + 2)
                guard alen >= 4 else { break }
                if atype == INET_DIAG_SKV6ONLY && a + 4 < end { v6only = b[a + 4] != 0 }
                a += (alen + 3) & ~3
            }
            let remoteShown = remote.port == 0 && SocketEntry.scope(of: remote.ip) == .wildcard ? nil : remote
            var e = SocketEntry(
                proto: proto, family: family, state: state, local: local, remote: remoteShown, inode: inode)
            if family == .ipv6 && e.scope == .wildcard { e.dualStack = v6only.map { !$0 } }
            e.uid = read32(b, o + 64)
            return e
        }

        private static func address(_ bytes: [UInt8], _ family: SocketAddress.Family, _ port: UInt16) -> SocketAddress?
        {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            let ok = bytes.withUnsafeBytes {
                inet_ntop(family == .ipv4 ? AF_INET : AF_INET6, $0.baseAddress, &text, socklen_t(text.count))
            }
            guard ok != nil else { return nil }
            let ip = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return SocketAddress(family: family, ip: ip, port: port)
        }

        private static func read32(_ b: [UInt8], _ o: Int) -> UInt32 {
            UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
        }

        private static func read16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
    }
#endif
