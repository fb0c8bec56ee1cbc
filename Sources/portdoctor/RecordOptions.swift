import ArgumentParser
import Doctor
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `run --record`, `--replay` and `--trace`: every primitive call a run makes, written down,
/// answered from a file, or shown as it happens (Docs/writing-checks.md).
struct RecordOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Write every primitive call the run makes, with its answer, to this JSON file (secrets left out).",
            valueName: "file"))
    var record: String?

    @Option(
        help: ArgumentHelp(
            "Answer every primitive from a recording instead of the network, firewall and services.",
            valueName: "file"))
    var replay: String?

    @Flag(help: "Show every primitive call a check makes (arguments, result, duration) on standard error.")
    var trace = false

    func validate() throws {
        if record != nil && record == replay {
            throw ValidationError("--record and --replay name the same file")
        }
    }

    /// Sets the run up: hooks, and for a replay the recorded platform, vendor and parameters
    /// (the person's own --platform, --vendor, --param and --peer still win).
    func begin(_ request: inout DiagnosisRequest, selection: PackSelection) throws -> RecordSession {
        // Before the session's tracer makes its logger: a logger keeps the handler it was made with.
        if trace { TraceLog.bootstrap() }
        let session = RecordSession(path: record)
        if trace { request.primitiveHooks.append(session.tracer) }
        if let replay {
            guard let data = FileManager.default.contents(atPath: replay) else {
                throw Failure("cannot read the recording \(replay)")
            }
            let recording: Recording
            do {
                recording = try Recording.parse(String(decoding: data, as: UTF8.self), source: replay)
            } catch { throw Failure(error.description) }
            // Another pack's recording answers calls this pack never makes: say so, not "no parameter …".
            if let recorded = recording.pack, recorded != request.pack, !request.pack.contains("/") {
                throw Failure(
                    "\(replay) was recorded with pack '\(recorded)', not '\(request.pack)': run `portdoctor run \(recorded) --replay \(replay)`")
            }
            let replayer = Replayer(recording)
            session.replayer = replayer
            request.primitiveHooks.insert(replayer, at: 0)
            request.discoverVendor = false
            if selection.platform == nil, let p = recording.platform.flatMap(Platform.init(rawValue:)) {
                request.platform = p
            }
            if selection.vendor == nil { request.vendor = recording.vendor }
            // What the recorded run had, and nothing from this computer's config or environment.
            request.parameters.environment = [:]
            request.parameters.config = nil
            let recorded = recording.parameters.filter { $0.value != Secrets.mask }.sorted { $0.key < $1.key }
            request.parameters.commandLine = recorded.map { ($0.key, $0.value) } + request.parameters.commandLine
        }
        if record != nil { request.primitiveHooks.append(session.recorder) }
        return session
    }
}

/// The hooks of one run, and the recording they make.
final class RecordSession {
    let path: String?
    let recorder = Recorder()
    let tracer = Tracer()
    var replayer: Replayer?
    private var diagnosis: Diagnosis?
    private let started = Date().timeIntervalSince1970

    init(path: String?) { self.path = path }

    /// The run is planned (the engine has told the hooks its secrets): what the recording says it was.
    func planned(_ diagnosis: Diagnosis) { self.diagnosis = diagnosis }

    /// Writes the recording (when asked for one) and returns it as written.
    @discardableResult
    func finish() throws -> String? {
        guard let path else { return nil }
        var r = Recording()
        r.calls = recorder.calls
        r.recordedAt = started
        r.portdoctorVersion = portdoctorVersion
        if let d = diagnosis {
            r.pack = d.plan.manifest.id
            r.platform = d.plan.platform.rawValue
            r.vendor = d.plan.vendor
            r.parameters = d.parameters.texts
        }
        let text = r.encoded()
        do {
            try text.write(to: URL(fileURLWithPath: path), atomically: true, encoding: .utf8)
        } catch {
            throw Failure("cannot write the recording \(path): \(error)")
        }
        return text
    }
}

/// Where `--trace` lines go: standard error, one line each, clear of the progress line. Any other
/// swift-log handler can take `portdoctor.trace` messages instead (its level is debug).
struct TraceLog: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        Terminal.clearProgress()
        Terminal.writeError("trace: \(event.message)\n")
    }

    static func bootstrap() { _ = once }

    /// swift-log takes one bootstrap per process; a global is initialised exactly once.
    private static let once: Void = LoggingSystem.bootstrap { label in
        label == "portdoctor.trace" ? TraceLog() as any LogHandler : SwiftLogNoOpLogHandler()
    }
}
