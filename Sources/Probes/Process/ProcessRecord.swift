#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What this computer says about one process: enough to tell whether a socket's owner is a
/// service's main process or one of its children, and its program's full name.
public struct ProcessRecord: Sendable, Encodable, Equatable {
    public var pid: Int32
    public var ppid: Int32?
    /// The kernel's short name (Linux: `comm`, cut at 15 bytes, so `CrashPlanService` reads `CrashPlanServic`).
    public var comm: String?
    /// The program's full name: the base name of argv[0], else of the executable.
    public var program: String?
    /// The executable's path, when this process may read it (another user's needs root).
    public var exe: String?
    /// The command line's words.
    public var arguments: [String]
    /// The cgroup v2 path ("/system.slice/crashplan.service"), or the name=systemd v1 one.
    public var cgroup: String?
    /// The parent, its parent, … up to (and with) pid 1, nearest first.
    public var ancestors: [Int32]
    /// `no-permission` when part of it is hidden from this user (another user's executable path);
    /// the rest (command line, parents, cgroup) any user may read.
    public var access: String?
    public var accessError: String?

    public init(
        pid: Int32, ppid: Int32? = nil, comm: String? = nil, program: String? = nil, exe: String? = nil,
        arguments: [String] = [], cgroup: String? = nil, ancestors: [Int32] = []
    ) {
        self.pid = pid
        self.ppid = ppid
        self.comm = comm
        self.program = program
        self.exe = exe
        self.arguments = arguments
        self.cgroup = cgroup
        self.ancestors = ancestors
    }
}

/// Reads processes from /proc (Linux). Elsewhere there is no /proc, and `read` says nothing.
public enum ProcessTable {
    /// The process, or nil when it does not exist (or /proc does not say).
    public static func read(_ pid: Int32, procRoot: String = "/proc") -> ProcessRecord? {
        guard pid > 0, let stat = SocketTable.readFile("\(procRoot)/\(pid)/stat") else { return nil }
        var r = ProcessRecord(pid: pid)
        let parsed = ProcParsers.stat(stat)
        r.comm = parsed.comm
        r.ppid = parsed.ppid
        r.arguments = SocketTable.readFile("\(procRoot)/\(pid)/cmdline").map(ProcParsers.cmdline) ?? []
        r.exe = link("\(procRoot)/\(pid)/exe")
        if r.exe == nil && (errno == EACCES || errno == EPERM) {
            r.access = Access.noPermission
            r.accessError = "the executable of another user's process is hidden without administrator rights"
        }
        r.program = ProcParsers.program(arguments: r.arguments, exe: r.exe, comm: r.comm)
        r.cgroup = SocketTable.readFile("\(procRoot)/\(pid)/cgroup").flatMap(ProcParsers.cgroup)
        var seen: Set<Int32> = [pid]
        var next = r.ppid
        // The chain ends at pid 1 (or 0, the kernel); a bound guards against a table that loops.
        while let p = next, p > 0, !seen.contains(p), r.ancestors.count < 256 {
            r.ancestors.append(p)
            seen.insert(p)
            next = SocketTable.readFile("\(procRoot)/\(p)/stat").flatMap { ProcParsers.stat($0).ppid }
        }
        return r
    }

    /// The full program name of `pid` (see `ProcessRecord.program`).
    public static func programName(_ pid: Int32, procRoot: String = "/proc") -> String? {
        let args = SocketTable.readFile("\(procRoot)/\(pid)/cmdline").map(ProcParsers.cmdline) ?? []
        return ProcParsers.program(arguments: args, exe: link("\(procRoot)/\(pid)/exe"), comm: nil)
    }

    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Parsers for /proc's files. Pure functions.
public enum ProcParsers {
    /// `/proc/PID/stat`: "1234 (name) S 1 …". The name may hold spaces and ")" itself, so it ends
    /// at the last ")".
    public static func stat(_ text: String) -> (comm: String?, ppid: Int32?) {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else {
            return (nil, nil)
        }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ")
        // After the name: state, then ppid.
        return (comm, rest.count >= 2 ? Int32(rest[1]) : nil)
    }

    /// `/proc/PID/cmdline`: the words, each ended by NUL. A program that rewrote its title may use spaces.
    public static func cmdline(_ text: String) -> [String] {
        text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init).reversed()
            .drop { $0.isEmpty }.reversed()
    }

    /// The program's full name: argv[0]'s base name (what a person typed or a launcher set), unless
    /// it is an interpreter's view (empty); else the executable's base name; else comm.
    public static func program(arguments: [String], exe: String?, comm: String?) -> String? {
        if let first = arguments.first, !first.isEmpty {
            // A title rewritten with spaces ("nginx: master process"): its first word.
            let word = first.split(separator: " ").first.map(String.init) ?? first
            if let base = word.split(separator: "/").last, !base.isEmpty { return String(base).trimmingColon }
        }
        if let exe, let base = exe.split(separator: "/").last {
            return String(base.hasSuffix(" (deleted)") ? base.dropLast(10) : base)
        }
        return comm
    }

    /// `/proc/PID/cgroup`: "0::/system.slice/x.service" (v2), or v1 lines of which name=systemd's
    /// path says the unit.
    public static func cgroup(_ text: String) -> String? {
        var v1: String?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty { return String(parts[2]) }
            if parts[1] == "name=systemd" { v1 = String(parts[2]) }
        }
        return v1
    }
}

extension String {
    /// "nginx:" (a rewritten title's first word) names nginx.
    fileprivate var trimmingColon: String { hasSuffix(":") && count > 1 ? String(dropLast()) : self }
}
