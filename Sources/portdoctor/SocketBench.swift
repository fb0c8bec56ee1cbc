import ArgumentParser
import Probes
import Reactor

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The socket table against `ss` with about 18,000 sockets open, and 1,000 connects fanned out
/// against one timeout — each figure a ratio to a baseline measured in the same run.
struct SocketBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sockets",
        abstract: "The socket table vs `ss` with ~18,000 sockets open; 1,000 concurrent connects vs one timeout.",
        discussion:
            "Targets: all TCP sockets with owners ≤ 1.0× `ss -tanp`; the owner of one listening port ≤ 0.5× `ss -tlnp 'sport = :P'`; 1,000 connects (half to a namespace that drops everything; needs root) ≤ 1.2× the timeout."
    )

    @Option(help: "Connections the helper holds open (each is two sockets).") var connections = 9000
    @Option(help: "Runs of each (the median is reported).") var runs = 5
    @Option(help: "Timeout of the fanned-out connects, in seconds.") var timeout = 1.0

    func run() throws {
        let me =
            CommandLine.arguments[0].hasPrefix("/")
            ? CommandLine.arguments[0]
            : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0]
        // The helper holds the sockets in another process, like a busy server would.
        let helper = try ChildProcess.start(
            [me, "bench", "hold-sockets", "--connections", String(connections)],
            captureOutput: true)
        var stopped = false
        defer {
            if !stopped {
                helper.kill()
                _ = helper.wait()
            }
        }
        let line = helper.readLine()
        guard let port = UInt16(line.split(separator: " ").first ?? "") else {
            throw ValidationError("the socket helper did not start: \(line)")
        }
        let total = SocketTable.list(SocketQuery(protocols: [.tcp], withOwners: false)).count
        print("socket table with \(total) TCP sockets open (median of \(runs) runs)")

        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        func time(_ body: () throws -> Void) rethrows -> Double {
            let c = ContinuousClock()
            let t = c.now
            try body()
            let e = c.now - t
            return Double(e.components.seconds) + Double(e.components.attoseconds) / 1e18
        }
        let ss = ["/usr/bin/ss", "/bin/ss", "/usr/sbin/ss"].first { FileManager.default.isExecutableFile(atPath: $0) }
        func runSS(_ args: [String]) throws -> Double {
            guard let ss else { return .nan }
            return try time { _ = try ChildProcess.start([ss] + args).wait() }
        }
        var ours: [Double] = [], theirs: [Double] = [], ours1: [Double] = [], theirs1: [Double] = []
        var found = 0
        for _ in 0..<runs {
            ours.append(time { found = SocketTable.list(SocketQuery(protocols: [.tcp])).count })
            theirs.append(try runSS(["-tanp"]))
            ours1.append(time { _ = SocketTable.list(.listening(port: port)) })
            theirs1.append(try runSS(["-tlnp", "sport = :\(port)"]))
        }
        let a = median(ours), b = median(theirs), c = median(ours1), d = median(theirs1)
        print(
            "  all TCP sockets with owners   \(fixed(a, 3)) s   ss -tanp \(fixed(b, 3)) s   ratio \(fixed(a / b, 2))×  (target ≤ 1.00; \(found) sockets)"
        )
        print(
            "  owner of one listening port   \(fixed(c, 3)) s   ss -tlnp 'sport = :\(port)' \(fixed(d, 3)) s   ratio \(fixed(c / d, 2))×  (target ≤ 0.50)"
        )
        if ss == nil { print("  (ss not found: install iproute2 for the baseline)") }
        helper.kill()
        _ = helper.wait()
        stopped = true
        try fanOut()
    }

    /// 1,000 connects at once: half to a listener on loopback, half (as root) to a namespace that drops.
    func fanOut() throws {
        var dropTarget: String?
        let ns = "pdbench\(getpid())"
        if geteuid() == 0,
            let ip = ["/usr/sbin/ip", "/sbin/ip"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
            let nft = ["/usr/sbin/nft", "/sbin/nft"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        {
            func sh(_ args: [String], input: String? = nil) -> Bool { ChildProcess.run(args, input: input) }
            let a = "pdb\(getpid() % 100000)a", b = "pdb\(getpid() % 100000)b"
            let ok =
                sh([ip, "netns", "add", ns]) && sh([ip, "link", "add", a, "type", "veth", "peer", "name", b])
                && sh([ip, "link", "set", b, "netns", ns]) && sh([ip, "addr", "add", "10.233.0.1/30", "dev", a])
                && sh([ip, "link", "set", a, "up"]) && sh([ip, "-n", ns, "addr", "add", "10.233.0.2/30", "dev", b])
                && sh([ip, "-n", ns, "link", "set", b, "up"])
                && sh(
                    [ip, "netns", "exec", ns, nft, "-f", "-"],
                    input:
                        "table inet bench {\n  chain input {\n    type filter hook input priority 0; policy drop;\n  }\n}\n"
                )
            if ok { dropTarget = "10.233.0.2" }
            defer { _ = sh([ip, "netns", "delete", ns]); _ = sh([ip, "link", "delete", a]) }
            try fanOutRun(dropTarget)
            return
        }
        try fanOutRun(nil)
    }

    func fanOutRun(_ dropTarget: String?) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, 16) }
        }
        listen(listener, 1024)
        var length = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = UInt16(bigEndian: sin.sin_port)
        let loop = EventLoop()
        var done = 0
        var statuses: [String: Int] = [:]
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<1000 {
            let host = dropTarget != nil && i % 2 == 1 ? dropTarget! : "127.0.0.1"
            TCPProbe.connect(
                host: host, port: host == "127.0.0.1" ? port : 4242,
                options: .init(timeout: .milliseconds(Int64(timeout * 1000))), on: loop
            ) { r, _ in
                statuses[r.status.rawValue, default: 0] += 1
                done += 1
            }
        }
        while done < 1000 { loop.turn(until: nil) }
        let e = clock.now - start
        let seconds = Double(e.components.seconds) + Double(e.components.attoseconds) / 1e18
        let what = statuses.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print(
            "  1,000 connects fanned out     \(fixed(seconds, 3)) s   timeout \(fixed(timeout, 3)) s   ratio \(fixed(seconds / timeout, 2))×  (target ≤ 1.20; \(what))"
        )
        if dropTarget == nil {
            print("  (not root, or no ip/nft: all 1,000 went to loopback, none to a dropping namespace)")
        }
    }
}

/// Holds `connections` loopback TCP connections open (both ends) until killed; prints the port.
struct HoldSockets: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hold-sockets", shouldDisplay: false)

    @Option var connections = 9000

    func run() throws {
        var limit = rlimit(rlim_cur: 65536, rlim_max: 65536)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, 16) }
        }
        listen(listener, 4096)
        var length = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        var held: [Int32] = []
        for _ in 0..<connections {
            let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard c >= 0 else { break }
            let rc = withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, 16) }
            }
            guard rc == 0 else { close(c); break }
            let a = accept(listener, nil, nil)
            held += [c, a]
        }
        var line = "\(UInt16(bigEndian: sin.sin_port)) \(held.count)\n"
        line.withUTF8 { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        while true { sleep(60) }
    }
}

/// Connects `count` times at once, round-robin over the targets, and prints JSON: how each ended and
/// the open file descriptors before and after. The lab runs it inside a client namespace.
struct FanOut: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fan-out", shouldDisplay: false)

    @Option var count = 1000
    @Option(name: .customLong("target")) var targets: [String] = []
    @Option var timeout = 1.0

    func run() throws {
        let parsed = try targets.map { t -> (String, UInt16) in
            guard let colon = t.lastIndex(of: ":"), let port = UInt16(t[t.index(after: colon)...]) else {
                throw ValidationError("--target takes host:port, got \(t)")
            }
            return (String(t[..<colon]), port)
        }
        guard !parsed.isEmpty else { throw ValidationError("give at least one --target") }
        func descriptors() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
        }
        let before = descriptors()
        var statuses: [String: Int] = [:]
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let loop = EventLoop()
            var done = 0
            for i in 0..<count {
                let (host, port) = parsed[i % parsed.count]
                TCPProbe.connect(
                    host: host, port: port, options: .init(timeout: .milliseconds(Int64(timeout * 1000))),
                    on: loop
                ) { r, _ in
                    statuses[r.status.rawValue, default: 0] += 1
                    done += 1
                }
            }
            while done < count { loop.turn(until: nil) }
        }
        let e = clock.now - start
        let seconds = Double(e.components.seconds) + Double(e.components.attoseconds) / 1e18
        let after = descriptors()
        let counts = statuses.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        print(
            "{ \"statuses\": { \(counts) }, \"seconds\": \(seconds), \"descriptors_before\": \(before), \"descriptors_after\": \(after) }"
        )
    }
}

/// Listens on a port until killed: the lab's stand-in for a backup service (its process is named
/// "portdoctor", unlike the python3 helpers that play "another program").
struct HoldListener: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hold-listener", shouldDisplay: false)

    @Option var port = 4242
    @Option var address = "0.0.0.0"

    func run() throws {
        guard let local = SocketAddress(numeric: address, port: UInt16(port)) else {
            throw ValidationError("bad address")
        }
        let s = socket(local.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        guard local.withSockaddr({ bind(s, $0, $1) }) == 0, listen(s, 64) == 0 else {
            throw Failure("cannot listen on \(local): \(String(cString: strerror(errno)))")
        }
        while true {
            let c = accept(s, nil, nil)
            if c >= 0 { close(c) }
        }
    }
}
