import Dispatch

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One case of a pack's `tests/` folder (format in Docs/writing-checks.md, "Testing a pack"):
/// primitive answers (a recording, inline calls, or both) and the findings they must lead to.
public struct PackTestCase: Sendable {
    public struct Expectation: Sendable, Equatable {
        public var status: CheckStatus?
        /// nil: not checked; .some(nil): the check must name no cause.
        public var cause: String??
    }

    public var name: String
    public var file: String
    public var description: String?
    /// Inline calls first, then the replay file's: an inline answer wins over a recorded one.
    public var recording: Recording
    public var platform: String?
    public var vendor: [String: String]?
    public var parameters: [String: String] = [:]
    /// The opening cause (the report's most likely one); .some(nil): no cause at all.
    public var cause: String??
    public var checks: [String: Expectation] = [:]
}

/// How one case went: empty `failures` is a pass.
public struct PackTestResult: Sendable {
    public var name: String
    public var failures: [String]
    public var passed: Bool { failures.isEmpty }
}

public enum PackTests {
    public struct CaseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The cases in `pack/tests/*.json`, by file name. A file there without `expect` is a
    /// recording a case refers to, not a case.
    public static func cases(inPack path: String) throws(CaseError) -> [PackTestCase] {
        let folder = URL(fileURLWithPath: path).appendingPathComponent("tests")
        guard (try? FileManager.default.contentsOfDirectory(atPath: path)) != nil else {
            throw CaseError(description: "\(path): no such pack folder (give the path to a folder with pack.lua)")
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw CaseError(description: "\(path) has no tests/ folder (see Docs/writing-checks.md, \"Testing a pack\")")
        }
        var cases: [PackTestCase] = []
        for name in names.sorted() where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let file = folder.appendingPathComponent(name)
            let document = try document(at: file)
            guard document["expect"] != nil else { continue }
            cases.append(try testCase(document, file: file))
        }
        return cases
    }

    static func document(at file: URL) throws(CaseError) -> JSONValue {
        guard let data = FileManager.default.contents(atPath: file.path), let text = String(validating: data, as: UTF8.self)
        else { throw CaseError(description: "cannot read \(file.path)") }
        do { return try JSONValue.parse(text) } catch {
            throw CaseError(description: "\(file.path): not JSON (\(error))")
        }
    }

    static func testCase(_ d: JSONValue, file: URL) throws(CaseError) -> PackTestCase {
        let shown = file.lastPathComponent
        // A misspelt key would otherwise be ignored, and the case would test something else.
        let known = ["description", "replay", "calls", "parameters", "platform", "vendor", "expect"]
        for key in d.object?.keys.sorted() ?? [] where !known.contains(key) {
            throw CaseError(description: "\(shown): unknown key \"\(key)\"; a case has \(known.joined(separator: ", "))")
        }
        var recording = Recording()
        do {
            if let inline = d["calls"] {
                recording = try Recording.read(.object(["calls": inline]), source: shown)
            }
            if let replay = d["replay"]?.string {
                let target = file.deletingLastPathComponent().appendingPathComponent(replay)
                let recorded = try Recording.read(try document(at: target), source: replay)
                let inline = recording.calls
                recording = recorded
                recording.calls = inline + recorded.calls
            }
        } catch let e as Recording.ReadError {
            throw CaseError(description: e.description)
        } catch let e as CaseError {
            throw e
        } catch {
            throw CaseError(description: "\(shown): \(error)")
        }
        var c = PackTestCase(
            name: String(shown.dropLast(5)), file: file.path, description: d["description"]?.string,
            recording: recording)
        c.platform = d["platform"]?.string ?? recording.platform
        c.vendor = d["vendor"]?.object?.compactMapValues(\.string) ?? recording.vendor
        c.parameters = recording.parameters.filter { $0.value != Secrets.mask }
        for (k, v) in d["parameters"]?.object ?? [:] { c.parameters[k] = v.string ?? "\(v)" }
        guard case .object(let expect)? = d["expect"] else {
            throw CaseError(description: "\(shown): \"expect\" is an object: {\"cause\": …, \"checks\": {…}}")
        }
        for key in expect.keys.sorted() where key != "cause" && key != "checks" {
            throw CaseError(description: "\(shown): unknown key \"\(key)\" in \"expect\"; it has \"cause\" and \"checks\"")
        }
        if let cause = expect["cause"] { c.cause = .some(cause.string) }
        for (id, e) in expect["checks"]?.object ?? [:] {
            c.checks[id] = try expectation(e, check: id, file: shown)
        }
        if c.cause == nil && c.checks.isEmpty {
            throw CaseError(description: "\(shown): \"expect\" names neither a \"cause\" nor any \"checks\"")
        }
        return c
    }

    private static func expectation(_ e: JSONValue, check: String, file: String) throws(CaseError)
        -> PackTestCase.Expectation
    {
        func status(_ text: String?) throws(CaseError) -> CheckStatus? {
            guard let text else { return nil }
            guard let s = CheckStatus(rawValue: text) else {
                throw CaseError(
                    description:
                        "\(file): check '\(check)': unknown status '\(text)' (\(CheckStatus.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            return s
        }
        switch e {
        case .string(let s): return .init(status: try status(s), cause: nil)
        case .object(let o):
            var cause: String?? = nil
            if let c = o["cause"] { cause = .some(c.string) }
            return .init(status: try status(o["status"]?.string), cause: cause)
        default:
            throw CaseError(
                description: "\(file): check '\(check)': expect a status (\"fail\") or {\"status\": …, \"cause\": …}")
        }
    }

    /// Runs every case, on every core (each case has its own Lua state), results in the cases' order.
    public static func run(_ cases: [PackTestCase], pack path: String, catalog: PackCatalog) -> [PackTestResult] {
        // The pack is read once, not once per case.
        let folder = try? PackCatalog.folder(atPath: path)
        let results = Results(count: cases.count)
        DispatchQueue.concurrentPerform(iterations: cases.count) { i in
            results.set(i, run(cases[i], pack: path, folder: folder, catalog: catalog))
        }
        return results.all
    }

    /// Results filled in from several threads.
    private final class Results: @unchecked Sendable {
        private var slots: [PackTestResult?]
        private let lock = DispatchQueue(label: "portdoctor.pack-test.results")
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: PackTestResult) { lock.sync { slots[i] = r } }
        var all: [PackTestResult] { lock.sync { slots.compactMap { $0 } } }
    }

    /// Runs one case against the pack at `path`: replayed, no network, no system change.
    public static func run(_ c: PackTestCase, pack path: String, folder: PackFolder? = nil, catalog: PackCatalog)
        -> PackTestResult
    {
        var request = DiagnosisRequest(pack: path)
        request.folder = folder
        if let p = c.platform {
            guard let platform = Platform(rawValue: p) else {
                return PackTestResult(name: c.name, failures: ["unknown platform '\(p)'"])
            }
            request.platform = platform
        }
        request.vendor = c.vendor
        request.discoverVendor = false
        request.parameters.commandLine = c.parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        request.options.printed = { _ in }
        let replayer = Replayer(c.recording)
        request.primitiveHooks = [replayer]
        let report: Report
        do {
            switch try Diagnosis.prepare(request, catalog: catalog) {
            case .unloadable(let r): report = r
            case .ready(let diagnosis): report = diagnosis.run()
            }
        } catch {
            return PackTestResult(name: c.name, failures: ["the diagnosis could not start: \(error)"])
        }
        return PackTestResult(name: c.name, failures: compare(c, report))
    }

    static func compare(_ c: PackTestCase, _ report: Report) -> [String] {
        var failures: [String] = []
        func shown(_ f: Finding) -> String {
            "\(f.status.rawValue)\(f.cause.map { " (\($0))" } ?? ""): \(f.summary)"
        }
        if let expected = c.cause {
            let actual = report.primary?.cause
            if actual != expected {
                failures.append(
                    "opening cause: expected \(expected ?? "none"), got \(actual ?? "none")"
                        + (report.primary.map { " from '\($0.id)': \(shown($0))" } ?? ""))
            }
        }
        for (id, e) in c.checks.sorted(by: { $0.key < $1.key }) {
            guard let f = report.findings.first(where: { $0.id == id }) else {
                failures.append(
                    "check '\(id)': not in the report (checks: \(report.findings.map(\.id).joined(separator: ", ")))")
                continue
            }
            if let s = e.status, s != f.status {
                failures.append("check '\(id)': expected \(s.rawValue), got \(shown(f))")
            } else if let cause = e.cause, cause != f.cause {
                failures.append("check '\(id)': expected cause \(cause ?? "none"), got \(shown(f))")
            }
        }
        // A check that could not run (a replay with no answer, a Lua error) is always worth saying.
        for f in report.findings where f.status == .error && c.checks[f.id] == nil {
            failures.append("check '\(f.id)' could not run: \(f.summary)")
        }
        return failures
    }
}
