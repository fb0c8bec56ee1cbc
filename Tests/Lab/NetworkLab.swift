import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Network namespaces made by a test, joined by veth pairs, filtered with real nftables rules.
/// Everything it creates carries a unique prefix and is removed by `tearDown()` — call it in a
/// `defer` so a failing test cleans up too. Traffic only ever goes between these namespaces.
final class NetworkLab {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Why the lab cannot run here, or nil when it can.
    static var unavailableReason: String? {
        if geteuid() != 0 { return "the network lab needs root (network namespaces)" }
        if ip == nil { return "the network lab needs iproute2 (`ip`): run .ci/install-deps --test" }
        if nft == nil { return "the network lab needs nftables (`nft`): run .ci/install-deps --test" }
        return nil
    }

    /// Under CI the lab must run: a missing prerequisite is a failure there, not a skip.
    static var shouldRun: Bool { unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] != nil }

    static func requireAvailable() throws {
        if let why = unavailableReason { throw Failure(description: why) }
    }

    let prefix: String
    private(set) var namespaces: [String] = []
    private var background: [Process] = []
    private var links = 0
    private static let counter = Counter()

    init() {
        prefix = "pdlab\(getpid() % 100000)x\(NetworkLab.counter.next())"
    }

    func name(_ role: String) -> String { "\(prefix)\(role)" }

    @discardableResult
    static func run(_ argv: [String], input: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(
                description:
                    "\(argv.joined(separator: " ")) failed (\(p.terminationStatus)): \(String(decoding: e, as: UTF8.self))"
            )
        }
        return String(decoding: o, as: UTF8.self)
    }

    func ip(_ args: String...) throws { try NetworkLab.run([NetworkLab.ip!] + args) }

    /// A namespace with its loopback up.
    @discardableResult
    func namespace(_ role: String) throws -> String {
        let ns = name(role)
        try ip("netns", "add", ns)
        namespaces.append(ns)
        try ip("-n", ns, "link", "set", "lo", "up")
        return ns
    }

    /// Joins two namespaces with a veth pair and gives each end an address ("10.231.1.1/24").
    func link(_ a: String, _ aAddress: String, _ b: String, _ bAddress: String) throws {
        links += 1
        let ia = "\(prefix)a\(links)", ib = "\(prefix)b\(links)"
        let (na, nb) = (String(ia.suffix(15)), String(ib.suffix(15)))
        try ip("link", "add", na, "type", "veth", "peer", "name", nb)
        try ip("link", "set", na, "netns", a)
        try ip("link", "set", nb, "netns", b)
        try ip("-n", a, "addr", "add", aAddress, "dev", na)
        try ip("-n", b, "addr", "add", bAddress, "dev", nb)
        try ip("-n", a, "link", "set", na, "up")
        try ip("-n", b, "link", "set", nb, "up")
    }

    /// Loads an nftables ruleset into a namespace.
    func nft(_ ns: String, _ ruleset: String) throws {
        try NetworkLab.run([NetworkLab.ip!, "netns", "exec", ns, NetworkLab.nft!, "-f", "-"], input: ruleset)
    }

    /// Runs a command inside a namespace and returns its standard output (any exit status).
    func exec(_ ns: String, _ argv: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NetworkLab.ip!)
        p.arguments = ["netns", "exec", ns] + argv
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self))
    }

    /// Starts a long-running command in a namespace; it is killed at teardown.
    func start(_ ns: String, _ argv: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NetworkLab.ip!)
        p.arguments = ["netns", "exec", ns] + argv
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        background.append(p)
    }

    func tearDown() {
        for p in background where p.isRunning {
            kill(p.processIdentifier, SIGKILL)  // SIGTERM may be blocked in children of the test runner
            p.waitUntilExit()
        }
        for ns in namespaces.reversed() {
            // Kill anything still inside, then remove the namespace (its veth ends go with it).
            if let pids = try? NetworkLab.run([NetworkLab.ip!, "netns", "pids", ns]) {
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? NetworkLab.run([NetworkLab.ip!, "netns", "delete", ns])
        }
        namespaces = []
    }

    final class Counter: @unchecked Sendable {
        private var n = 0
        private let lock = NSLock()
        func next() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
    }
}

/// The built portdoctor binary, next to the test bundle.
let portdoctorBinary = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("portdoctor").path
