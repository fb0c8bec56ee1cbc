import LuaHost

/// Reads one DSL table (`pack { … }`, `check { … }`, `overlay { … }`) from a host call, collecting a
/// diagnostic for every field that is missing, misspelt or of the wrong type.
struct DefinitionReader {
    let call: LuaCall
    let table: Int32
    let file: String
    let source: String
    let line: Int?
    var subject: String
    let step: String?
    private(set) var diagnostics: [PackDiagnostic] = []

    /// Takes over the diagnostics of a reader of one element of this table.
    mutating func absorb(_ other: DefinitionReader) { diagnostics += other.diagnostics }

    init(call: LuaCall, table: Int32, file: String, source: String, line: Int?, subject: String, step: String?) {
        self.call = call
        self.table = table
        self.file = file
        self.source = source
        self.line = line
        self.subject = subject
        self.step = step
    }

    mutating func problem(_ field: String?, _ message: String) {
        let at = field.flatMap { SourceLines.line(of: $0, in: source, from: line) } ?? line
        diagnostics.append(
            PackDiagnostic(
                file: file, line: at, subject: subject, message: field.map { "'\($0)' \(message)" } ?? message,
                step: step))
    }

    func fieldLines(_ fields: [String]) -> [String: Int] {
        var lines: [String: Int] = [:]
        for f in fields { lines[f] = SourceLines.line(of: f, in: source, from: line) }
        return lines
    }

    /// Fields that are not in `known` get a diagnostic with a suggestion.
    mutating func rejectUnknownFields(_ known: [String]) {
        for key in call.stack.keys(of: table) {
            guard let name = key.stringValue else {
                problem(nil, "field names must be strings, got a \(key.typeName) key")
                continue
            }
            if !known.contains(name) {
                problem(name, "is not a field of this definition\(Suggest.hint(name, known))")
            }
        }
    }

    private func type(_ field: String) -> LuaType {
        call.withField(table, field) { call.stack.luaType(at: $0) } ?? .none
    }

    mutating func string(_ field: String, required: Bool = false) -> String? {
        switch type(field) {
        case .string:
            return call.withField(table, field) { call.stack.bytes(at: $0).map { String(decoding: $0, as: UTF8.self) } }
                ?? nil
        case .nil, .none:
            if required { problem(field, "is required (a string)") }
            return nil
        case let t:
            problem(field, "must be a string, got \(t.name)")
            return nil
        }
    }

    mutating func number(_ field: String) -> Double? {
        switch type(field) {
        case .number: return call.withField(table, field) { (try? call.stack.value(at: $0))?.doubleValue } ?? nil
        case .nil, .none: return nil
        case let t:
            problem(field, "must be a number, got \(t.name)")
            return nil
        }
    }

    mutating func boolean(_ field: String) -> Bool? {
        switch type(field) {
        case .boolean: return call.withField(table, field) { (try? call.stack.value(at: $0))?.boolValue } ?? nil
        case .nil, .none: return nil
        case let t:
            problem(field, "must be true or false, got \(t.name)")
            return nil
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    mutating func strings(_ field: String, what: String = "names") -> [String] {
        switch type(field) {
        case .nil, .none: return []
        case .string: return [string(field) ?? ""]
        case .table:
            guard case .table(let t)? = call.withField(table, field, { try? call.stack.value(at: $0) }) ?? nil else {
                return []
            }
            let items = t.sequence.compactMap(\.stringValue)
            if items.count != t.sequence.count || !t.fields.isEmpty {
                problem(field, "must be a list of \(what) (strings)")
            }
            return items
        case let t:
            problem(field, "must be a list of \(what) (strings), got \(t.name)")
            return []
        }
    }

    mutating func function(_ field: String, required: Bool = false) -> LuaRef? {
        switch type(field) {
        case .function: return call.withField(table, field) { call.reference($0) }
        case .nil, .none:
            if required { problem(field, "is required (a function)") }
            return nil
        case let t:
            problem(field, "must be a function, got \(t.name)")
            return nil
        }
    }

    /// Plain data (no functions inside).
    mutating func data(_ field: String) -> LuaValue {
        (call.withField(table, field) { try? call.stack.value(at: $0) } ?? nil) ?? .nil
    }

    /// Runs `body` with a reader for the nested table `field` (if it is a table).
    mutating func nested<R>(_ field: String, subject: String? = nil, _ body: (inout DefinitionReader) -> R) -> R? {
        switch type(field) {
        case .table:
            return call.withField(table, field) { index -> R in
                var inner = DefinitionReader(
                    call: call, table: index, file: file, source: source,
                    line: SourceLines.line(of: field, in: source, from: line),
                    subject: subject ?? self.subject, step: step)
                let result = body(&inner)
                diagnostics += inner.diagnostics
                return result
            }
        case .nil, .none: return nil
        case let t:
            problem(field, "must be a table, got \(t.name)")
            return nil
        }
    }

    /// The string keys of the nested table `field`, each with a reader when its value is a table.
    mutating func entries(_ field: String, _ body: (String, inout DefinitionReader) -> Void) {
        _ = nested(field) { outer in
            for key in outer.call.stack.keys(of: outer.table).sorted(by: { "\($0)" < "\($1)" }) {
                guard let name = key.stringValue else {
                    outer.problem(field, "keys must be names (strings)")
                    continue
                }
                _ = outer.nested(name, subject: outer.subject) { inner in body(name, &inner) }
                if outer.type(name) != .table { outer.problem(field, "entry '\(name)' must be a table") }
            }
        }
    }

    mutating func limits() -> LimitRequest {
        var request = LimitRequest()
        if let t = number("timeout") {
            if t > 0 { request.timeoutSeconds = t } else { problem("timeout", "must be more than 0 seconds") }
        }
        if let i = number("instructions") {
            if i >= 1000 { request.instructions = Int64(i) } else { problem("instructions", "must be at least 1000") }
        }
        if let m = number("memory") {
            if m >= 1 { request.memoryMiB = Int(m) } else { problem("memory", "must be at least 1 (MiB)") }
        }
        return request
    }
}
