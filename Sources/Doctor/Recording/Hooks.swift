import LuaHost
import Logging

/// A hook that must not show secrets: the engine tells it the run's once they are known,
/// before any check runs.
public protocol SecretKeeping: AnyObject {
    var secrets: Secrets { get set }
}

/// `run --record`: keeps every primitive call with its answer, secrets masked.
public final class Recorder: PrimitiveHook, SecretKeeping {
    public private(set) var calls: [Recording.Call] = []
    /// Set once the run's parameters are known (before any check runs).
    public var secrets = Secrets()

    public init() {}

    public func answer(_ call: PrimitiveCall) throws -> PrimitiveOutcome? { nil }

    public func completed(_ call: PrimitiveCall, _ outcome: PrimitiveOutcome, nanoseconds: Int64) {
        calls.append(
            Recording.Call(
                name: call.name, arguments: secrets.scrub(call.arguments), outcome: secrets.scrub(outcome),
                check: call.task, milliseconds: Double(nanoseconds) / 1e6))
    }
}

/// `run --replay`: answers every primitive from a recording, running none.
///
/// A call takes the first unused recorded call of the same primitive with, in this order:
/// 1. the same arguments (secrets masked as when recording; numbers compared by value);
/// 2. the same *target*: for a method, the same object (`Connection#1`); for a module function,
///    the same arguments up to its first table (host and port of `socket.connect`, the service of
///    `service.status`), options such as `{timeout = 3}` not compared. So editing one answer,
///    which changes what a check asks next (a longer timeout, other bytes to send), needs no
///    second edit.
/// Repeated calls take the recorded answers in order. A call with no answer left is an error in
/// the check that names it and the closest recorded call. Objects a recorded primitive returned
/// (`{"$opaque": "Connection#1"}`) are handed out as stand-ins whose method calls replay too.
/// The clock is the exception: with no recorded answer it reads the recording's time (`os.time`)
/// or 0 (`os.clock`), so that hand-written cases need not list it; so is `pairing.paths`, which
/// with no recorded answer says "not paired" (nil), as a single-ended run's did.
public final class Replayer: PrimitiveHook, SecretKeeping {
    private struct Entry {
        var name: String
        var arguments: String
        var target: String
        var outcome: PrimitiveOutcome
        var used = false
    }
    private var entries: [Entry] = []
    private let clockStart: Int64
    public var secrets = Secrets()
    /// Calls that had no recorded answer, as the error named them.
    public private(set) var unmatched: [String] = []
    /// Calls answered by their target alone (tier 2), as "name(arguments)": for `--trace` readers and tests.
    public private(set) var looselyMatched: [String] = []

    public init(_ recording: Recording) {
        entries = recording.calls.map {
            Entry(
                name: $0.name, arguments: RecordedValue.canonical($0.arguments),
                target: RecordedValue.canonical(Replayer.target($0.arguments)), outcome: $0.outcome)
        }
        clockStart = Int64(recording.recordedAt ?? 0)
    }

    /// The arguments that say what a call is about: the object of a method call; else those before
    /// the first table (tables are options or filters).
    static func target(_ arguments: [LuaValue]) -> [LuaValue] {
        if case .opaque = arguments.first { return [arguments[0]] }
        return Array(arguments.prefix { if case .table = $0 { false } else { true } })
    }

    public func answer(_ call: PrimitiveCall) throws -> PrimitiveOutcome? {
        let scrubbed = secrets.scrub(call.arguments)
        let arguments = RecordedValue.canonical(scrubbed)
        let target = RecordedValue.canonical(Replayer.target(scrubbed))
        let shown = "\(call.name)(\(arguments.dropFirst().dropLast()))"
        if let i = entries.firstIndex(where: { !$0.used && $0.name == call.name && $0.arguments == arguments })
            ?? entries.firstIndex(where: { !$0.used && $0.name == call.name && $0.target == target })
        {
            entries[i].used = true
            if entries[i].arguments != arguments { looselyMatched.append(shown) }
            return entries[i].outcome
        }
        switch call.name {
        case "os.time": return .results([.integer(clockStart)])
        case "os.clock": return .results([.number(0)])
        // Not recorded: a single-ended run (or one recorded before paired runs were), so not paired.
        case "pairing.paths": return .results([.nil])
        default: break
        }
        unmatched.append(shown)
        throw LuaScriptError("replay: no recorded answer for \(shown): \(why(call.name, arguments))")
    }

    /// What the recording has instead: the closest recorded call, by name then by arguments.
    private func why(_ name: String, _ arguments: String) -> String {
        let same = entries.filter { $0.name == name }
        guard !same.isEmpty else {
            let names = Array(Set(entries.map(\.name)))
            return "the recording has no call of \(name)"
                + (Suggest.closest(to: name, in: names).map { " (it has \($0))" } ?? "")
        }
        if same.contains(where: { $0.arguments == arguments }) {
            return "the recording's \(same.filter { $0.arguments == arguments }.count) answer(s) to it are used up"
        }
        // Compared on their first 200 characters: the distance is quadratic, and bytes sent can be long.
        func distance(_ e: Entry) -> Int { Suggest.distance(String(e.arguments.prefix(200)), String(arguments.prefix(200))) }
        let closest = same.min { distance($0) < distance($1) }!
        return "the closest recorded call is \(name)(\(closest.arguments.dropFirst().dropLast()))"
            + (closest.used ? ", its answer used up" : ", for another target")
            + (same.count > 1 ? " (\(same.count) recorded calls of \(name))" : "")
    }

    public func completed(_ call: PrimitiveCall, _ outcome: PrimitiveOutcome, nanoseconds: Int64) {}
}

/// `--trace`: one log message per primitive call, as it completes, through swift-log (label
/// `portdoctor.trace`, level debug) so that a handler decides where it goes. The message is
/// "check: name(arguments) -> results (1.2 ms)", Lua-like and cut at a few hundred characters a value.
public final class Tracer: PrimitiveHook, SecretKeeping {
    private let logger: Logger
    public var secrets = Secrets()

    public init(logger: Logger = Logger(label: "portdoctor.trace")) { self.logger = logger }

    public func answer(_ call: PrimitiveCall) throws -> PrimitiveOutcome? { nil }

    public func completed(_ call: PrimitiveCall, _ outcome: PrimitiveOutcome, nanoseconds: Int64) {
        let arguments = secrets.scrub(call.arguments).map { LuaLiteral.text($0) }.joined(separator: ", ")
        let result: String
        switch secrets.scrub(outcome) {
        case .results(let values):
            result = values.isEmpty ? "(nothing)" : values.map { LuaLiteral.text($0) }.joined(separator: ", ")
        case .error(let message): result = "error: \(message)"
        }
        let ms = Double(nanoseconds) / 1e6
        logger.debug(
            "\(call.task ?? "portdoctor"): \(call.name)(\(arguments)) -> \(result) (\(LuaLiteral.milliseconds(ms)) ms)",
            metadata: [
                "check": .string(call.task ?? ""), "primitive": .string(call.name),
                "milliseconds": .stringConvertible(ms),
            ])
    }
}

/// Lua data written the way a person would type it in Lua, for trace lines.
enum LuaLiteral {
    static let limit = 400

    static func text(_ v: LuaValue) -> String {
        var out = ""
        write(v, into: &out)
        return out.count > limit ? String(out.prefix(limit)) + "…" : out
    }

    static func milliseconds(_ ms: Double) -> String {
        let tenths = (ms * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int64(tenths)) : String(tenths)
    }

    private static func write(_ v: LuaValue, into out: inout String) {
        if out.count > limit { return }
        switch v {
        case .nil: out += "nil"
        case .boolean(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += String(d)
        case .string(let s): quote(s.description, into: &out)
        case .opaque(let type): out += "<\(type)>"
        case .table(let t):
            out += "{"
            var first = true
            func comma() {
                if !first { out += ", " }
                first = false
            }
            for e in t.sequence {
                comma()
                write(e, into: &out)
            }
            let keyed = t.fields.map { (key: $0.key, value: $0.value) }.sorted { name($0.key) < name($1.key) }
            for (k, e) in keyed {
                comma()
                if let s = k.stringValue, isIdentifier(s) {
                    out += s
                } else {
                    out += "["
                    write(k, into: &out)
                    out += "]"
                }
                out += "="
                write(e, into: &out)
            }
            out += "}"
        }
    }

    private static func name(_ k: LuaValue) -> String { k.stringValue ?? "\(k)" }

    private static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += "\\\(c.value)"
            default: out.unicodeScalars.append(c)
            }
        }
        out += "\""
    }
}
