import Foundation

/// Pack tests made in the lab: with `PD_LAB_RECORD=DIR`, every lab diagnosis that named the right
/// cause is also recorded (`run --record`) into DIR/recordings/NAME.json, and a case DIR/NAME.json
/// pins what that run found (the opening cause, each check's status and cause). Point DIR at a
/// pack's tests/ folder and commit the files: `portdoctor pack test` then replays every lab fault
/// in milliseconds, without the lab. For example:
///
///     PD_LAB_RECORD=$PWD/Checks/crashplan/tests PD_FAULT_MATRIX=all \
///       swift test --disable-xctest --skip-build --filter FaultMatrixLabTests/wholeMatrix
/// `PD_LAB_PACK=tcp-service` runs (and records) the shared TCP-service pack instead of crashplan.
enum LabRecordings {
    static let directory = ProcessInfo.processInfo.environment["PD_LAB_RECORD"]
    static let pack = ProcessInfo.processInfo.environment["PD_LAB_PACK"] ?? "crashplan"

    /// A file name for a scenario id ("destination/single/inbound-drop+no-forward").
    static func name(_ id: String) -> String {
        id.map { $0 == "/" ? "-" : $0 == "+" ? "_and_" : String($0) }.joined()
    }

    /// The arguments that make `portdoctor run` record this scenario (none unless asked for).
    static func arguments(for id: String) -> [String] {
        guard let directory else { return [] }
        let folder = URL(fileURLWithPath: directory).appendingPathComponent("recordings")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return ["--record", folder.appendingPathComponent(name(id) + ".json").path]
    }

    /// Writes the case for a run whose diagnosis was right; a wrong one leaves no case (and its
    /// recording is removed: a test must pin a correct diagnosis, not a confusion).
    /// `side`: for a paired run (`run --with`), the role this computer played; the case pins only its
    /// own checks, and no opening cause (a replay is not paired, so the pair's verdict is not made).
    static func keep(_ id: String, description: String, report: String, correct: Bool, side: String? = nil) {
        guard let directory else { return }
        let folder = URL(fileURLWithPath: directory)
        let recording = "recordings/" + name(id) + ".json"
        guard correct, let json = try? JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any] else {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(recording))
            return
        }
        var checks: [String: Any] = [:]
        for c in json["checks"] as? [[String: Any]] ?? [] {
            guard let id = c["id"] as? String, let status = c["status"] as? String else { continue }
            // A paired report has both computers' checks (the other's as "role:id"): the recording
            // has this one's calls only.
            if side != nil, id.contains(":") { continue }
            checks[id] = ["status": status, "cause": c["cause"] ?? NSNull()]
        }
        let cause = (json["primary"] as? [String: Any])?["cause"] ?? NSNull()
        var expect: [String: Any] = ["checks": checks]
        if side == nil { expect["cause"] = cause }
        let testCase: [String: Any] = [
            "description": "lab: \(id): \(description)",
            "replay": recording,
            "expect": expect,
        ]
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: testCase, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return }
        try? (String(decoding: data, as: UTF8.self) + "\n").write(
            to: folder.appendingPathComponent(name(id) + ".json"), atomically: true, encoding: .utf8)
    }
}
