import LuaHost

/// A problem in a pack, found while loading it. Its text names the file, the line where there is
/// one, the check or overlay, and the field.
public struct PackDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    /// "check 'reach-peer'", "pack 'crashplan'", "overlay 'openwrt'".
    public var subject: String?
    public var message: String
    /// The step this problem belongs to, when it is one check's problem (it becomes that step's error finding).
    public var step: String?
    /// `syntax`, `runtime` or a limit when Lua stopped the file; `load` for a definition that is wrong.
    public var kind: LuaError.Kind = .load

    /// The problem as a finding's `error`, so reports give its kind, file and line.
    public var error: LuaError {
        LuaError(kind: kind, message: (subject.map { "\($0): " } ?? "") + message, chunk: file, line: line)
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let subject { s += "\(subject): " }
        return s + message
    }
}

public enum Platform: String, Sendable, CaseIterable {
    case linux, macos, windows

    public static var current: Platform {
        #if os(macOS)
            .macos
        #elseif os(Windows)
            .windows
        #else
            .linux
        #endif
    }
}

public enum ParameterType: Sendable, Equatable, CustomStringConvertible {
    case port, endpoint, host, integer, boolean, string
    case choice([String])

    public var description: String {
        switch self {
        case .port: "port"
        case .endpoint: "endpoint"
        case .host: "host"
        case .integer: "integer"
        case .boolean: "boolean"
        case .string: "string"
        case .choice: "choice"
        }
    }

    static let names = ["port", "endpoint", "host", "integer", "boolean", "string", "choice"]
}

public struct ParameterSpec: Sendable, Equatable {
    public var name: String
    public var type: ParameterType
    public var defaultText: String?
    public var doc: String
    public var required: Bool
    /// A password or token: reports show that it was given, never its value.
    public var secret = false
}

/// Lower limits a pack or a check asks for; the user's limits still cap them.
public struct LimitRequest: Sendable, Equatable {
    public var instructions: Int64?
    public var memoryMiB: Int?
    public var timeoutSeconds: Double?

    func applied(to limits: LuaLimits) -> LuaLimits {
        var l = limits
        if let instructions { l.instructions = min(l.instructions, instructions) }
        if let memoryMiB { l.memoryBytes = min(l.memoryBytes, memoryMiB << 20) }
        if let timeoutSeconds { l.wallClock = min(l.wallClock, .milliseconds(Int64(timeoutSeconds * 1000))) }
        return l
    }
}

public struct PackManifest: Sendable {
    public var id: String
    public var version: String
    public var title: String
    public var description: String
    public var parameters: [ParameterSpec]
    public var steps: [String]
    public var causes: [String: String]
    public var limits: LimitRequest
    public var file: String
}

/// How the runner starts a check's function so that `ctx.params` is strict: the engine prelude's
/// wrapper, given the key under which the loader filed the function.
struct StrictEntry {
    let wrapper: LuaRef
    let key: String
}

public final class RepairDefinition {
    public let id: String
    public let title: String
    public let changes: String
    public let privileged: Bool
    let apply: LuaRef
    let strict: StrictEntry?

    init(id: String, title: String, changes: String, privileged: Bool, apply: LuaRef, strict: StrictEntry? = nil) {
        self.id = id
        self.title = title
        self.changes = changes
        self.privileged = privileged
        self.apply = apply
        self.strict = strict
    }
}

public final class CheckDefinition {
    public let id: String
    public let title: String
    public let file: String
    public let line: Int?
    public let needs: [String]
    /// Steps that must have finished first, whatever their outcome: for a check that reads their
    /// results (`ctx.results`) without depending on their data.
    public let after: [String]
    /// Steps a result of this check may send the flow to.
    public let next: [String]
    public let platforms: [Platform]?
    public let limits: LimitRequest
    public let repairs: [String: RepairDefinition]
    /// Lines of the `needs` and `next` fields, for messages about them.
    let fieldLines: [String: Int]
    let run: LuaRef
    let strict: StrictEntry?

    init(
        id: String, title: String, file: String, line: Int?, needs: [String], after: [String] = [], next: [String],
        platforms: [Platform]?, limits: LimitRequest, repairs: [String: RepairDefinition],
        fieldLines: [String: Int] = [:], run: LuaRef, strict: StrictEntry? = nil
    ) {
        self.strict = strict
        self.after = after
        self.fieldLines = fieldLines
        self.id = id
        self.title = title
        self.file = file
        self.line = line
        self.needs = needs
        self.next = next
        self.platforms = platforms
        self.limits = limits
        self.repairs = repairs
        self.run = run
    }
}

/// A change to a pack's plan, applied when its conditions match.
public struct OverlayDefinition {
    public enum Placement: Equatable, Sendable {
        case before(String), after(String)
    }

    public struct Insertion: Sendable, Equatable {
        public var placement: Placement
        public var checks: [String]
    }

    public struct Move: Sendable, Equatable {
        public var step: String
        public var placement: Placement
    }

    public var id: String
    public var title: String
    public var file: String
    public var extends: String
    public var platforms: [Platform]?
    public var vendor: [String: String]?
    /// Given by the user (`--overlay`), not found with the packs.
    public var isUserOverlay = false
    public var insertions: [Insertion]
    public var replacements: [String: String]
    public var skips: [String]
    public var moves: [Move]
    public var checks: [String: CheckDefinition]
    public var diagnostics: [PackDiagnostic]
}

/// Finds the line of `field = ` at or after `line` in `source`, so messages about a field point at it.
enum SourceLines {
    static func line(of field: String, in source: String, from line: Int?) -> Int? {
        guard let start = line else { return nil }
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        guard start >= 1, start <= lines.count else { return line }
        for (offset, text) in lines[(start - 1)...].enumerated() {
            var rest = Substring(text.drop { $0 == " " || $0 == "\t" })
            if rest.hasPrefix("[\"\(field)\"]") { return start + offset }
            guard rest.hasPrefix(field) else { continue }
            rest = rest.dropFirst(field.count).drop { $0 == " " }
            if rest.hasPrefix("=") && !rest.hasPrefix("==") { return start + offset }
        }
        return line
    }
}

/// "did you mean 'listener'?" for names within two edits of a known one.
enum Suggest {
    static func closest(to name: String, in candidates: [String]) -> String? {
        if name.count >= 4, let prefixed = candidates.sorted().first(where: { $0.hasPrefix(name) }) { return prefixed }
        let scored = candidates.map { ($0, distance(name, $0)) }.filter { $0.1 <= max(2, name.count / 3) }
        return scored.min { $0.1 < $1.1 }?.0
    }

    static func hint(_ name: String, _ candidates: [String]) -> String {
        closest(to: name, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
