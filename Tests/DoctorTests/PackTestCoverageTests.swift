import Doctor
import Foundation
import Testing

/// Issue 13's target: every bundled check has pack tests (`Checks/<pack>/tests/*.json`) covering
/// each cause it can name. The causes a check can name are read from the Lua it runs, so a cause
/// added to a step without a test fails here instead of going untested.
@Suite struct PackTestCoverageTests {
    static let checks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Checks")

    /// Causes a check can name that no pack test reaches yet, with why: an explicit, reviewed
    /// gap rather than a silent one. Empty is the goal; an entry that gets a test must go.
    static let untested: [String: String] = [
        // The reading over-approximates here: port-forward requires lib/pinhole.lua for its
        // carrier-NAT-with-IPv6 judgement (`carrier_nat`), and that file also holds the pinhole
        // step's own cause, which port-forward never names (the pinhole step's tests cover it).
        "crashplan/port-forward/ipv6-pinhole-missing": "read through lib/pinhole.lua; named by the pinhole step only",
        "tcp-service/port-forward/ipv6-pinhole-missing": "read through lib/pinhole.lua; named by the pinhole step only",
    ]

    @Test(arguments: ["crashplan", "tcp-service"])
    func everyCauseACheckCanNameHasAPackTest(pack: String) throws {
        let named = try Self.causesNamed(pack: pack)
        let covered = try Self.causesCovered(pack: pack)
        #expect(!named.isEmpty)
        for (check, causes) in named.sorted(by: { $0.key < $1.key }) {
            for cause in causes.sorted() where Self.untested["\(pack)/\(check)/\(cause)"] == nil {
                #expect(
                    covered[check, default: []].contains(cause),
                    "\(pack): check '\(check)' can name cause '\(cause)', but no test in Checks/\(pack)/tests expects it")
            }
        }
        for key in Self.untested.keys where key.hasPrefix(pack + "/") {
            let parts = key.split(separator: "/").map(String.init)
            #expect(!covered[parts[1], default: []].contains(parts[2]), "\(key) has a test now: remove it from `untested`")
        }
    }

    /// The reading finds what it should: a step's own causes, a library's rules, and no others.
    @Test func theCausesOfAChecksLuaAreFoundThroughItsStepAndLibraries() throws {
        let named = try Self.causesNamed(pack: "crashplan")
        #expect(named["reach-peer"]?.isSuperset(of: ["peer-ipv6-unreachable", "no-listener", "peer-unreachable"]) == true)
        #expect(
            named["paths"] == [
                "firewall-blocks-inbound-ipv6", "firewall-blocks-inbound", "port-forward-missing", "filtered-upstream",
                "listener-ipv4-only", "no-listener",
            ])
        #expect(named["port-forward"]?.contains("upnp-unavailable") == true, "through require(\"tcp-service:nat\")")
        #expect(named["reauthenticate"] == ["manual-step"])
        #expect(named["pack"] == nil)
    }

    // MARK: what a check can name

    /// Check id → the cause words (shared vocabulary and the pack's own) quoted in the Lua it runs:
    /// its file, the shared step it builds (`function M.NAME` of tcp-service's steps.lua), every
    /// library it requires (whole), and its platform and router overlays.
    static func causesNamed(pack: String) throws -> [String: Set<String>] {
        let folder = checks.appendingPathComponent(pack)
        let words = Set(RootCause.vocabulary.keys).union(try declaredCauses(pack: pack))
        let steps = try text(checks.appendingPathComponent("tcp-service/lib/steps.lua"))
        var out: [String: Set<String>] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        where file.hasSuffix(".lua") && file != "pack.lua" {
            let id = String(file.dropLast(4))
            var source = try text(folder.appendingPathComponent(file))
            let overlays = folder.appendingPathComponent("overlays").path
            let vendors = FileManager.default.fileExists(atPath: overlays)
                ? try FileManager.default.contentsOfDirectory(atPath: overlays) : []
            for overlay in vendors {
                let path = folder.appendingPathComponent("overlays/\(overlay)/\(file)")
                if FileManager.default.fileExists(atPath: path.path) { source += try text(path) }
            }
            for step in matches(#"(?:tcp-service:steps"\)|\bsteps)\.([a-z_]+)\s*[({]"#, in: source) {
                source += function("M.\(step)", in: steps)
            }
            var seen: Set<String> = []
            while let library = matches(#"require\("([a-z:-]+)"\)"#, in: source).first(where: { !seen.contains($0) }) {
                seen.insert(library)
                guard library != "tcp-service:steps" else { continue }
                let parts = library.split(separator: ":").map(String.init)
                let path = parts.count == 2
                    ? checks.appendingPathComponent("\(parts[0])/lib/\(parts[1]).lua")
                    : folder.appendingPathComponent("lib/\(library).lua")
                if FileManager.default.fileExists(atPath: path.path) { source += try text(path) }
            }
            out[id] = Set(words.filter { source.contains("\"\($0)\"") })
        }
        return out
    }

    /// `causes = { ["word"] = "…" }` in the pack's manifest.
    static func declaredCauses(pack: String) throws -> Set<String> {
        let manifest = try text(checks.appendingPathComponent("\(pack)/pack.lua"))
        return Set(matches(#"\[\"([a-z0-9-]+)\"\]\s*="#, in: manifest))
    }

    /// A top-level `function NAME(…)` of a Lua file, up to its closing `end` at column 0.
    static func function(_ name: String, in source: String) -> String {
        guard let start = source.range(of: "\nfunction \(name)(") else { return "" }
        let rest = source[start.lowerBound...]
        guard let end = rest.range(of: "\nend\n") else { return String(rest) }
        return String(rest[..<end.upperBound])
    }

    // MARK: what the tests cover

    /// Check id → the causes some test of the pack expects of it.
    static func causesCovered(pack: String) throws -> [String: Set<String>] {
        let folder = checks.appendingPathComponent("\(pack)/tests")
        var out: [String: Set<String>] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".json") {
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let expect = json?["expect"] as? [String: Any] ?? [:]
            for (check, value) in expect["checks"] as? [String: Any] ?? [:] {
                if let cause = (value as? [String: Any])?["cause"] as? String { out[check, default: []].insert(cause) }
            }
        }
        return out
    }

    static func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    static func matches(_ pattern: String, in source: String) -> [String] {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return [] }
        let ns = source as NSString
        return re.matches(in: source, range: NSRange(location: 0, length: ns.length)).map {
            ns.substring(with: $0.range(at: 1))
        }
    }
}
