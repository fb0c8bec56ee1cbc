import LuaHost
import Probes

/// One connect between the two computers of a paired run, on one address of one family, by one
/// path. **Contract**: the `paths` check's `evidence.tests` entries (Docs/pairing-protocol.md).
public struct PathTest: Sendable, Equatable {
    /// The role that connected (`source`) and the one it connected to (`destination`).
    public var from: String
    public var to: String
    /// Which computer asked for it: `connect` (the connecting computer ran it) or `connect-back`
    /// (the other asked its partner to connect back to it).
    public var how: String
    public var address: String
    public var port: Int
    /// `ipv4` or `ipv6`.
    public var family: String
    /// `lan`: an address on the receiving computer's own interface; `public`: its router's.
    public var via: String
    /// `connected`, `refused`, `timeout` or `unreachable` (anything else the connect said is `status`).
    public var outcome: String
    /// The connect's own status words (`host-unreachable`, `blocked-locally` …).
    public var status: String
    public var milliseconds: Double?

    public init(
        from: String, to: String, how: String, address: String, port: Int, family: String, via: String, status: String,
        milliseconds: Double?
    ) {
        self.from = from
        self.to = to
        self.how = how
        self.address = address
        self.port = port
        self.family = family
        self.via = via
        self.status = status
        self.outcome = PathTest.outcome(of: status)
        self.milliseconds = milliseconds
    }

    /// The four outcomes a pack reasons about; the status words keep the detail.
    public static func outcome(of status: String) -> String {
        switch status {
        case "connected", "refused", "timeout": status
        case "reset": "refused"
        default: "unreachable"
        }
    }

    var lua: LuaValue {
        var t = LuaTable()
        t["from"] = .text(from)
        t["to"] = .text(to)
        t["how"] = .text(how)
        t["address"] = .text(address)
        t["port"] = .integer(Int64(port))
        t["family"] = .text(family)
        t["via"] = .text(via)
        t["outcome"] = .text(outcome)
        t["status"] = .text(status)
        if let ms = milliseconds { t["ms"] = .number(ms) }
        return .table(t)
    }
}

/// What the paired run measured between the two computers, for the pack's `paths` step: set by
/// the command line after the pack is planned (the service port is known) and before it runs.
/// Unchecked: it is written once, before the run starts, and only read while checks run.
public final class PairedPaths: @unchecked Sendable {
    /// Nil until measured; then every test, possibly none.
    public var tests: [PathTest]?
    /// Why some address could not be tested (a version-1 peer, an ATTACH refused …), for the reader.
    public var notes: [String] = []
    /// The source's connect to the service port traced hop by hop, next to the same trace to the
    /// pairing port (which got through): how far each got. Nil when not traced.
    public var trace: OutboundTrace?
    public init() {}
}

/// The same destination address traced on two ports (`ConnectTrace`): the service port, and as a
/// control the pairing port, which is known to pass. **Contract**: the `paths` check's
/// `evidence.trace` (Docs/pairing-protocol.md).
public struct OutboundTrace: Sendable, Equatable {
    public var address: String
    public var port: Int
    public var hops: [ConnectTrace.Hop]
    public var controlPort: Int
    public var control: [ConnectTrace.Hop]

    public init(address: String, port: Int, hops: [ConnectTrace.Hop], controlPort: Int, control: [ConnectTrace.Hop]) {
        self.address = address
        self.port = port
        self.hops = hops
        self.controlPort = controlPort
        self.control = control
    }

    var lua: LuaValue {
        func hopsTable(_ hops: [ConnectTrace.Hop]) -> LuaValue {
            .table(
                LuaTable(
                    sequence: hops.map { h in
                        var t = LuaTable()
                        t["ttl"] = .integer(Int64(h.ttl))
                        t["status"] = .text(h.status)
                        if let from = h.from { t["from"] = .text(from) }
                        return .table(t)
                    }))
        }
        var t = LuaTable()
        t["address"] = .text(address)
        t["port"] = .integer(Int64(port))
        t["hops"] = hopsTable(hops)
        t["control_port"] = .integer(Int64(controlPort))
        t["control"] = hopsTable(control)
        return .table(t)
    }
}

/// `pairing`: what a paired run observed between the two computers. Lua decides what it means.
enum PairingModule {
    static func install(_ runtime: LuaRuntime, paths: PairedPaths?) {
        runtime.register(
            module: "pairing",
            [
                // nil outside a paired run (or before its tests); else { tests = {…}, notes = {…}, trace = {…}? }.
                "paths": HostFunction { call in
                    guard let tests = paths?.tests else { return call.returning(.nil) }
                    var t = LuaTable()
                    t["tests"] = .table(LuaTable(sequence: tests.map(\.lua)))
                    t["notes"] = .table(LuaTable(sequence: (paths?.notes ?? []).map(LuaValue.text)))
                    if let trace = paths?.trace { t["trace"] = trace.lua }
                    return call.returning(.table(t))
                }
            ])
        // A primitive like any other, so that `run --with … --record` keeps what the paired run
        // measured and a pack test can replay it (`--replay` itself cannot pair). A recording
        // without the call (every single-ended one made before it was recorded) replays it as
        // "not paired": `Replayer` answers nil then.
    }
}
