import LuaHost

/// A run's primitive calls with their answers, and what the run was for: the file
/// `run --record` writes and `run --replay` and `pack test` read (Docs/writing-checks.md).
public struct Recording: Sendable {
    public static let format = "portdoctor-recording/1"

    public struct Call: Sendable, Equatable {
        /// "socket.connect", "Connection.send", "os.time".
        public var name: String
        public var arguments: [LuaValue]
        public var outcome: PrimitiveOutcome
        /// The check that made the call (for people reading the file; replay does not need it).
        public var check: String?
        public var milliseconds: Double?

        public init(
            name: String, arguments: [LuaValue], outcome: PrimitiveOutcome, check: String? = nil,
            milliseconds: Double? = nil
        ) {
            self.name = name
            self.arguments = arguments
            self.outcome = outcome
            self.check = check
            self.milliseconds = milliseconds
        }
    }

    public var pack: String?
    public var platform: String?
    public var vendor: [String: String]?
    /// Parameter values as text; a secret one is "(secret)" and is not replayed.
    public var parameters: [String: String] = [:]
    /// When it was recorded (seconds since 1970): the time a replay's clock starts from.
    public var recordedAt: Double?
    public var portdoctorVersion: String?
    public var calls: [Call] = []

    public init() {}

    // MARK: writing

    public func json() -> JSONValue {
        var o: [String: JSONValue] = ["format": .string(Recording.format)]
        if let pack { o["pack"] = .string(pack) }
        if let platform { o["platform"] = .string(platform) }
        if let vendor { o["vendor"] = .object(vendor.mapValues(JSONValue.string)) }
        o["parameters"] = .object(parameters.mapValues(JSONValue.string))
        if let recordedAt {
            o["recorded_at"] = .string(Timestamp.iso8601(recordedAt))
            o["recorded_at_seconds"] = .double(recordedAt)
        }
        if let portdoctorVersion { o["portdoctor_version"] = .string(portdoctorVersion) }
        o["calls"] = .array(calls.map(Recording.json))
        return .object(o)
    }

    public func encoded() -> String { json().encoded() + "\n" }

    static func json(_ c: Call) -> JSONValue {
        var o: [String: JSONValue] = [
            "call": .string(c.name), "arguments": .array(c.arguments.map(RecordedValue.json)),
        ]
        switch c.outcome {
        case .results(let values): o["results"] = .array(values.map(RecordedValue.json))
        case .error(let message): o["error"] = .string(message)
        }
        if let check = c.check { o["check"] = .string(check) }
        if let ms = c.milliseconds { o["ms"] = .double((ms * 1000).rounded() / 1000) }
        return .object(o)
    }

    // MARK: reading

    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a recording (or the `calls` list of a test case); `source` names it in errors.
    public static func parse(_ text: String, source: String) throws(ReadError) -> Recording {
        let document: JSONValue
        do { document = try JSONValue.parse(text) } catch {
            throw ReadError(description: "\(source): not JSON (\(error))")
        }
        // A file of its own must say what it is: a saved report or any other JSON is not a recording.
        guard document["format"] != nil || document["calls"]?.array != nil else {
            throw ReadError(
                description:
                    "\(source) is not a recording (no \"format\": \"\(format)\" and no \"calls\" list): a recording is the file `portdoctor run PACK --record FILE` writes")
        }
        return try read(document, source: source)
    }

    public static func read(_ document: JSONValue, source: String) throws(ReadError) -> Recording {
        guard case .object(let o) = document else {
            throw ReadError(description: "\(source): a recording is a JSON object with a 'calls' list")
        }
        if let f = o["format"], f.string != format {
            throw ReadError(description: "\(source): format \(f.string ?? "?") is not \(format)")
        }
        var r = Recording()
        r.pack = o["pack"]?.string
        r.platform = o["platform"]?.string
        r.vendor = o["vendor"]?.object?.compactMapValues(\.string)
        r.parameters = o["parameters"]?.object?.compactMapValues { $0.string ?? text($0) } ?? [:]
        r.recordedAt = o["recorded_at_seconds"]?.double
        r.portdoctorVersion = o["portdoctor_version"]?.string
        for (i, item) in (o["calls"]?.array ?? []).enumerated() {
            guard let name = item["call"]?.string else {
                throw ReadError(description: "\(source): calls[\(i + 1)] has no \"call\" (like \"socket.connect\")")
            }
            let arguments = (item["arguments"]?.array ?? []).map(RecordedValue.lua)
            let outcome: PrimitiveOutcome
            if let message = item["error"]?.string {
                outcome = .error(message)
            } else if let results = item["results"]?.array {
                outcome = .results(results.map(RecordedValue.lua))
            } else {
                throw ReadError(
                    description: "\(source): calls[\(i + 1)] (\(name)) has neither \"results\" (a list) nor \"error\"")
            }
            r.calls.append(
                Call(
                    name: name, arguments: arguments, outcome: outcome, check: item["check"]?.string,
                    milliseconds: item["ms"]?.double))
        }
        return r
    }

    private static func text(_ j: JSONValue) -> String? {
        switch j {
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): String(b)
        default: nil
        }
    }
}

/// What must never be written down: table fields with these names (a token for the reflector, a
/// pairing code) and the values of parameters a pack declares `secret`. Recordings and `--trace`
/// show "(secret)" instead.
public struct Secrets: Sendable {
    /// Field names a primitive's arguments or results may carry secrets under. A module that takes
    /// a new kind of secret adds its field name here.
    public static let fieldNames: Set<String> = [
        "token", "password", "passphrase", "secret", "pairing_code", "pairing", "pin", "api_key",
    ]
    public static let mask = "(secret)"

    /// Secret parameter values (never empty strings).
    public var values: [String] = []

    public init(values: [String] = []) { self.values = values.filter { !$0.isEmpty } }

    /// The secret parameters' values of a resolved run.
    public init(manifest: PackManifest, parameters: ResolvedParameters) {
        self.init(
            values: manifest.parameters.filter(\.secret).compactMap { parameters.values[$0.name]?.stringValue })
    }

    public func scrub(_ value: LuaValue) -> LuaValue {
        switch value {
        case .string(let s):
            guard !values.isEmpty, var text = s.text else { return value }
            for v in values where text.contains(v) { text = text.replacing(v, with: Secrets.mask) }
            return .text(text)
        case .table(let t):
            var out = LuaTable(sequence: t.sequence.map(scrub))
            for (k, v) in t.fields {
                if let name = k.stringValue, Secrets.fieldNames.contains(name.lowercased()), v != .nil {
                    out.fields[k] = .text(Secrets.mask)
                } else {
                    out.fields[k] = scrub(v)
                }
            }
            return .table(out)
        default: return value
        }
    }

    public func scrub(_ values: [LuaValue]) -> [LuaValue] { values.map(scrub) }

    func scrub(_ text: String) -> String {
        values.reduce(text) { $0.contains($1) ? $0.replacing($1, with: Secrets.mask) : $0 }
    }

    func scrub(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): .string(scrub(s))
        case .array(let a): .array(a.map(scrub))
        case .object(let o):
            .object(
                Dictionary(
                    uniqueKeysWithValues: o.map { k, v in
                        (k, Secrets.fieldNames.contains(k.lowercased()) && v != .null ? .string(Secrets.mask) : scrub(v))
                    }))
        default: value
        }
    }

    /// A report as it may be shown or saved: what a check wrote (its summary, advice, evidence,
    /// output) can quote a secret parameter, or carry one under a secret field's name.
    public func scrub(_ report: Report) -> Report {
        var r = report
        for i in r.findings.indices {
            var f = r.findings[i]
            f.summary = scrub(f.summary)
            f.advice = f.advice.map(scrub)
            f.evidence = scrub(f.evidence)
            f.output = f.output?.map(scrub)
            r.findings[i] = f
        }
        return r
    }

    public func scrub(_ outcome: PrimitiveOutcome) -> PrimitiveOutcome {
        switch outcome {
        case .results(let v): .results(scrub(v))
        case .error(let m): .error(scrub(.text(m)).stringValue ?? m)
        }
    }
}
