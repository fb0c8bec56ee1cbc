#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The socket table of this computer.
public enum SocketTable {
    public enum Source: String, Sendable {
        /// netlink sock_diag, falling back to /proc/net when the kernel does not offer it.
        case automatic
        case netlink
        case proc
    }

    /// Linux: netlink sock_diag (the kernel filters by state and port), or /proc/net; owners from
    /// /proc/PID/fd, scanning processes only until every socket found has one.
    /// macOS: `netstat -anv` (owners from its pid column, names from `lsof`). Windows: `netstat -ano`.
    public static func list(_ query: SocketQuery, source: Source = .automatic) -> [SocketEntry] {
        #if os(macOS)
            return listFromTools(query, platform: "macos")
        #elseif os(Windows)
            return listFromTools(query, platform: "windows")
        #else
            if source != .proc, var entries = try? SockDiag.list(query) {
                if query.withOwners { attachOwners(&entries, procRoot: "/proc") }
                return entries
            }
            return listFromProc(query, procRoot: "/proc")
        #endif
    }

    /// Runs the platform's own tools and parses what they print.
    static func listFromTools(_ query: SocketQuery, platform: String) -> [SocketEntry] {
        var entries: [SocketEntry] = []
        if platform == "windows" {
            entries = NetstatParsers.windowsNetstat(
                ChildProcess.output(["C:\\Windows\\System32\\NETSTAT.EXE", "-ano"]) ?? "")
        } else {
            for proto in SocketEntry.Proto.allCases where query.protocols.contains(proto) {
                entries += NetstatParsers.macNetstat(
                    ChildProcess.output(["/usr/sbin/netstat", "-anv", "-p", proto.rawValue]) ?? "")
            }
            if query.withOwners {
                // netstat gives the pid; lsof gives the program's name.
                let named = NetstatParsers.lsofFields(
                    ChildProcess.output(["/usr/sbin/lsof", "-nP", "-i", "-F", "pcnPT"]) ?? "")
                let names = Dictionary(
                    named.compactMap { e in e.owner.map { ($0.pid, $0.program) } }, uniquingKeysWith: { a, _ in a })
                for i in entries.indices {
                    if let pid = entries[i].owner?.pid { entries[i].owner?.program = names[pid] ?? "" }
                }
            }
        }
        return entries.filter(query.admits)
    }

    /// /proc/net/{tcp,tcp6,udp,udp6}, reading only the files the query needs.
    public static func listFromProc(_ query: SocketQuery, procRoot: String) -> [SocketEntry] {
        let dualStack = readFile(procRoot + "/sys/net/ipv6/bindv6only").map { $0.hasPrefix("0") }
        var entries: [SocketEntry] = []
        for proto in SocketEntry.Proto.allCases where query.protocols.contains(proto) {
            for family in [SocketAddress.Family.ipv4, .ipv6] {
                let file = procRoot + "/net/" + proto.rawValue + (family == .ipv6 ? "6" : "")
                guard let text = readFile(file) else { continue }
                entries += ProcNet.parse(text, proto: proto, family: family, dualStack: dualStack).filter(query.admits)
            }
        }
        if query.withOwners { attachOwners(&entries, procRoot: procRoot) }
        return entries
    }

    /// Fills in `owner` by finding which process holds each socket's inode. A socket whose owner is
    /// not found while some process's open files could not be listed (another user's, without
    /// administrator rights) is marked `no-permission`: its owner exists but is hidden.
    static func attachOwners(_ entries: inout [SocketEntry], procRoot: String, user: UInt32 = geteuid()) {
        var wanted = Dictionary(grouping: entries.indices.filter { (entries[$0].inode ?? 0) != 0 }) {
            entries[$0].inode!
        }
        guard !wanted.isEmpty, let proc = opendir(procRoot) else { return }
        defer { closedir(proc) }
        var denied = false
        defer {
            if denied {
                for i in wanted.values.joined() where entries[i].uid != user {
                    entries[i].access = Access.noPermission
                    entries[i].accessError =
                        "the program is another user's"
                        + (entries[i].uid.map { " (uid \($0))" } ?? "")
                        + ": only the administrator may see which one"
                }
            }
        }
        var link = [CChar](repeating: 0, count: 64)
        while !wanted.isEmpty, let dirent = readdir(proc) {
            let name = withUnsafeBytes(of: dirent.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name) else { continue }
            let fdDir = "\(procRoot)/\(name)/fd"
            guard let fds = opendir(fdDir) else {
                if errno == EACCES || errno == EPERM { denied = true }
                continue
            }
            var owner: SocketEntry.Owner?
            while let fd = readdir(fds) {
                let fdName = withUnsafeBytes(of: fd.pointee.d_name) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard fdName.first?.isNumber == true else { continue }
                let n = readlink("\(fdDir)/\(fdName)", &link, link.count - 1)
                guard n > 8 else { continue }
                let target = String(decoding: link[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard target.hasPrefix("socket:["), let inode = UInt64(target.dropFirst(8).dropLast()),
                    let indices = wanted.removeValue(forKey: inode)
                else { continue }
                if owner == nil {
                    let comm = readFile("\(procRoot)/\(name)/comm").map { String($0.filter { $0 != "\n" }) }
                    owner = SocketEntry.Owner(
                        pid: pid, program: ProcessTable.programName(pid, procRoot: procRoot) ?? comm ?? "?", comm: comm)
                }
                for i in indices { entries[i].owner = owner }
                if wanted.isEmpty { break }
            }
            closedir(fds)
        }
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readAll(fd)
    }
}
