import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The monitoring formats, each read by its consumer's own parser (Prometheus's Python parser, Perl's
/// TAP::Parser, the Nagios plugin guidelines' grammar), check selection, several reports in one run,
/// and `--every`.
@Suite struct MonitoringTests {
    let cli = CommandLineTests()
    static let example = CommandLineTests.example

    /// A pack in a fresh folder (removed by the caller through `cleanUp`).
    func pack(_ files: [String: String]) throws -> URL { try cli.pack(files) }
    func cleanUp(_ packs: URL...) {
        for p in packs { try? FileManager.default.removeItem(at: p.deletingLastPathComponent()) }
    }

    static func manifest(_ steps: [String], id: String = "demo") -> String {
        """
        return pack { id = "\(id)", version = "1.0.0", title = "Demo", steps = { \(steps.map { "\"\($0)\"" }.joined(separator: ", ")) },
                      params = { port = { type = "port", default = 4242, doc = "the port to check" } } }
        """
    }

    /// A check that connects to the port on loopback: pass when something listens, else fail with no-listener.
    static let reach = """
        return check { title = "Reach", run = function(ctx)
          local r = socket.connect("127.0.0.1", ctx.params.port, { timeout = 5 })
          if r.status == "connected" then return pass { summary = "connected", evidence = r } end
          return fail { summary = "not connected: " .. r.status, cause = "no-listener", evidence = r }
        end }
        """

    /// A loopback socket bound to a free port: connects are refused until `listen()`.
    final class Port {
        let fd: Int32
        let number: Int
        init() throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = fd
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            number = Int(UInt16(bigEndian: address.sin_port))
            try #require(fd >= 0 && bound)
        }
        func listen() { _ = Glibc.listen(fd, 16) }
        deinit { close(fd) }
    }

    // MARK: Nagios

    /// monitoring-plugins guidelines: `'label'=value[UOM];[warn];[crit];[min];[max]`, labels quoted
    /// when they hold anything but letters, digits, `_` and `.`; a quote inside doubled; `=` never.
    static let perfItem =
        #"(?:'(?:[^'=]|'')+'|[A-Za-z0-9_.]+)=-?[0-9]+(?:\.[0-9]+)?(?:s|ms|us|%|B|KB|MB|TB|c)?(?:;-?[0-9.]*){0,4}"#
    static let statusLine =
        #"^PORTDOCTOR (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+ \| "# + perfItem + "(?: " + perfItem + ")*$"

    static func matches(_ text: String, _ pattern: String) -> Bool {
        text.range(of: pattern, options: .regularExpression) != nil
    }

    @Test func nagiosFollowsThePluginGrammarWithItsExitCodes() throws {
        let cases: [(String, Int32, String)] = [
            ("return pass('fine')", 0, "OK"),
            ("return warn('a bit odd')", 1, "WARNING"),
            ("return fail { summary = 'closed | shut', cause = 'no-listener', advice = 'Start it.' }", 2, "CRITICAL"),
            ("error('boom')", 3, "UNKNOWN"),
        ]
        for (body, code, word) in cases {
            // A hyphen in the check id: its labels must be quoted.
            let p = try pack(["pack.lua": Self.manifest(["my-check"]), "my-check.lua": CommandLineTests.check(body)])
            defer { cleanUp(p) }
            let run = try cli.portdoctor(["run", p.path, "--format", "nagios"])
            #expect(run.status == code, "\(word): \(run.stdout) \(run.stderr)")
            let first = String(run.stdout.split(separator: "\n").first ?? "")
            #expect(Self.matches(first, Self.statusLine), "\(first)")
            #expect(first.hasPrefix("PORTDOCTOR \(word) - demo: "))
            #expect(first.contains("'my-check.duration'="))
            // Long output: nothing after the first line may start performance data by accident.
            #expect(run.stdout.split(separator: "\n").dropFirst().allSatisfy { !$0.contains("|") }, "\(run.stdout)")
        }
        // The other formats keep 0/1/2: a warning is not a problem, an error is "could not diagnose".
        let warn = try pack(["pack.lua": Self.manifest(["a"]), "a.lua": CommandLineTests.check("return warn('odd')")])
        let failing = try pack([
            "pack.lua": Self.manifest(["a"]), "a.lua": CommandLineTests.check("return fail('closed')"),
        ])
        let broken = try pack(["pack.lua": Self.manifest(["a"]), "a.lua": CommandLineTests.check("error('boom')")])
        defer { cleanUp(warn, failing, broken) }
        for format in ["text", "json", "junit", "markdown", "prometheus", "tap"] {
            #expect(try cli.portdoctor(["run", warn.path, "--format", format]).status == 0, "\(format)")
            #expect(try cli.portdoctor(["run", failing.path, "--format", format]).status == 1, "\(format)")
            #expect(try cli.portdoctor(["run", broken.path, "--format", format]).status == 2, "\(format)")
        }
    }

    @Test func nagiosPerfdataCarriesConnectTimes() throws {
        let port = try Port()
        port.listen()
        let p = try pack(["pack.lua": Self.manifest(["reach"]), "reach.lua": Self.reach])
        defer { cleanUp(p) }
        let run = try cli.portdoctor(["run", p.path, "--format", "nagios", "--param", "port=\(port.number)"])
        #expect(run.status == 0, "\(run.stdout)")
        let first = String(run.stdout.split(separator: "\n").first ?? "")
        #expect(Self.matches(first, Self.statusLine), "\(first)")
        #expect(Self.matches(first, #" reach\.rtt=[0-9.]+ms;;;0"#), "\(first)")
        #expect(Self.matches(first, #" reach\.duration=[0-9.]+s;;;0"#), "\(first)")
    }

    @Test func nagiosUsageErrorsAreUnknown() throws {
        let badOption = try cli.portdoctor(["run", Self.example, "--format", "nagios", "--frobnicate"])
        #expect(badOption.status == 3)
        #expect(badOption.stdout.hasPrefix("PORTDOCTOR UNKNOWN - "), "\(badOption.stdout)")
        #expect(badOption.stdout.split(separator: "\n").count == 1)
        let unknownPack = try cli.portdoctor(["run", "crashplna", "--format=nagios"])
        #expect(unknownPack.status == 3)
        #expect(unknownPack.stdout.contains("no pack named 'crashplna'"))
        #expect(try cli.portdoctor(["run", Self.example, "--format", "nagios", "--every", "1m"]).status == 3)
        // Without nagios, usage errors stay 2.
        #expect(try cli.portdoctor(["run", Self.example, "--frobnicate"]).status == 2)
    }

    // MARK: Prometheus

    /// The samples as prometheus_client's own parser reads them: one line per sample, name{labels} value.
    func parsePrometheus(_ file: String) throws -> (status: Int32, samples: [String: Double], output: String) {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for family in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()):
                assert family.documentation, family.name
                for s in family.samples:
                    out.append([s.name, sorted(s.labels.items()), s.value, family.type])
            print(json.dumps(out))
            """
        // Debian's python3, where python3-prometheus-client (.ci/install-deps --test) puts the parser.
        let run = try cli.portdoctor(["python3", "-c", script, file], executable: "/usr/bin/python3")
        var samples: [String: Double] = [:]
        if run.status == 0, let rows = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[Any]] {
            for row in rows {
                let labels = (row[1] as? [[String]] ?? []).map { "\($0[0])=\($0[1])" }.joined(separator: ",")
                #expect(row[3] as? String == "gauge")
                samples["\(row[0] as! String){\(labels)}"] = (row[2] as? NSNumber)?.doubleValue
            }
        }
        return (run.status, samples, run.stdout + run.stderr)
    }

    @Test func prometheusParsesWithThePythonClientAndIsWrittenAtomically() throws {
        let port = try Port()  // bound, not listening: refused
        // Evidence keys become the `path` label: quotes, backslashes and line breaks must be escaped.
        let odd = """
            return check { title = "Odd", run = function(ctx)
              return pass { summary = "ok", evidence = { ['we"ird\\\\key\\n'] = { rtt_ms = 12.5 } } }
            end }
            """
        let p = try pack(["pack.lua": Self.manifest(["reach", "odd"]), "reach.lua": Self.reach, "odd.lua": odd])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pd-prom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer {
            cleanUp(p)
            try? FileManager.default.removeItem(at: folder)
        }
        let file = folder.appendingPathComponent("portdoctor.prom").path
        try "old".write(toFile: file, atomically: false, encoding: .utf8)
        let before = try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int
        let run = try cli.portdoctor([
            "run", p.path, "--format", "prometheus", "--output", file, "--param", "port=\(port.number)",
        ])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stdout.isEmpty, "--output FILE replaces standard output")
        // Replaced by rename (a new inode), and no temporary file left beside it.
        let after = try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int
        #expect(before != after)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["portdoctor.prom"])

        let parsed = try parsePrometheus(file)
        try #require(parsed.status == 0, "\(parsed.output)")
        let s = parsed.samples
        #expect(s["portdoctor_check_status{check=reach,pack=demo,status=fail}"] == 1)
        #expect(s["portdoctor_check_status{check=reach,pack=demo,status=pass}"] == 0)
        #expect(s["portdoctor_check_status{check=odd,pack=demo,status=pass}"] == 1)
        #expect(s["portdoctor_cause{cause=no-listener,pack=demo}"] == 1)
        #expect(s["portdoctor_cause{cause=cgnat,pack=demo}"] == 0)
        #expect(s["portdoctor_check_cause{cause=no-listener,check=reach,pack=demo}"] == 1)
        #expect(s["portdoctor_exit_code{pack=demo}"] == 1)
        #expect(s["portdoctor_checks{pack=demo,status=fail}"] == 1)
        #expect(s["portdoctor_check_duration_seconds{check=reach,pack=demo}"] != nil)
        #expect(s["portdoctor_connect_rtt_seconds{check=reach,pack=demo,path=attempts.1}"] != nil)
        #expect(
            s["portdoctor_connect_rtt_seconds{check=odd,pack=demo,path=we\"ird\\key\n}"] == 0.0125, "\(s.keys.sorted())"
        )
    }

    // MARK: TAP

    /// What Perl's TAP::Parser (the parser behind `prove`) makes of a TAP file.
    func parseTAP(_ file: String) throws -> [String: Any] {
        let script = #"""
            use strict; use TAP::Parser; use JSON::PP;
            open my $f, '<:raw', $ARGV[0] or die; local $/; my $tap = <$f>;
            my $p = TAP::Parser->new({ tap => $tap });
            my @tests;
            while (my $r = $p->next) {
                if ($r->is_test) {
                    push @tests, { number => $r->number, ok => $r->is_actual_ok ? 1 : 0,
                                   skip => $r->has_skip ? 1 : 0, description => $r->description,
                                   explanation => $r->explanation };
                } elsif ($r->is_yaml) { $tests[-1]{yaml} = $r->data; }
            }
            print JSON::PP->new->canonical->encode({ version => $p->version, tests => \@tests,
                plan => $p->plan, errors => [$p->parse_errors], failed => [$p->failed], passed => [$p->passed] });
            """#
        let run = try cli.portdoctor(["perl", "-e", script, file], executable: "/usr/bin/perl")
        try #require(run.status == 0, "\(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    @Test func tapParsesWithTAPParser() throws {
        let failing = """
            return check { title = "B", run = function(ctx)
              return fail { summary = "closed # not a directive", cause = "no-listener",
                            advice = { "Start it.", "Then \\"retry\\"." },
                            evidence = { ports = { 1, 2 }, peers = { { host = "a", ok = true } }, note = "tab\\there" } }
            end }
            """
        let p = try pack([
            "pack.lua": Self.manifest(["a", "b", "c", "d"]),
            "a.lua": CommandLineTests.check("return pass('fine')"),
            "b.lua": failing,
            "c.lua": CommandLineTests.check("return warn('odd')"),
            "d.lua": CommandLineTests.check("error('boom')"),
        ])
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pd-\(UUID().uuidString).tap").path
        defer {
            cleanUp(p)
            try? FileManager.default.removeItem(atPath: out)
        }
        let run = try cli.portdoctor(["run", p.path, "--format", "tap", "--output", out, "--skip", "a"])
        #expect(run.status == 2, "an error: could not diagnose")
        let tap = try parseTAP(out)
        #expect(tap["version"] as? Int == 13)
        #expect(tap["plan"] as? String == "1..4")
        #expect((tap["errors"] as? [Any])?.isEmpty == true, "\(tap)")
        let tests = try #require(tap["tests"] as? [[String: Any]])
        try #require(tests.count == 4)
        #expect(tests[0]["skip"] as? Int == 1 && tests[0]["explanation"] as? String == "left out by --skip")
        #expect(tests[1]["ok"] as? Int == 0)
        #expect((tests[1]["description"] as? String)?.contains("closed \\# not a directive") == true, "\(tests[1])")
        let yaml = try #require(tests[1]["yaml"] as? [String: Any])
        #expect(yaml["severity"] as? String == "fail")
        #expect(yaml["cause"] as? String == "no-listener")
        #expect(yaml["advice"] as? [String] == ["Start it.", "Then \"retry\"."])
        let evidence = try #require(yaml["evidence"] as? [String: Any])
        #expect(evidence["note"] as? String == "tab\there")
        #expect((evidence["peers"] as? [[String: Any]])?.first?["host"] as? String == "a")
        #expect(tests[2]["ok"] as? Int == 1 && (tests[2]["yaml"] as? [String: Any])?["severity"] as? String == "warn")
        #expect(tests[3]["ok"] as? Int == 0)
        #expect(((tests[3]["yaml"] as? [String: Any])?["error"] as? [String: Any])?["kind"] != nil)
        #expect(tap["failed"] as? [Int] == [2, 4])
    }

    // MARK: choosing checks

    @Test func onlyAndSkipChooseChecksAndExplainNeeds() throws {
        let only = try cli.portdoctor(["run", Self.example, "--only", "reserved", "--format", "json"])
        #expect(only.status == 0)
        let checks = try #require(
            (try JSONSerialization.jsonObject(with: Data(only.stdout.utf8)) as? [String: Any])?["checks"]
                as? [[String: Any]])
        #expect(checks.map { $0["status"] as? String } == ["skip", "skip"])
        #expect(checks[0]["summary"] as? String == "left out by --only")
        #expect(checks[1]["summary"] as? String == "needs 'range', which --only left out")

        let skipped = try cli.portdoctor(["run", Self.example, "--skip", "reserved", "--param", "port=4243"])
        #expect(skipped.status == 0, "reserved would fail on 4243: \(skipped.stdout)")
        #expect(skipped.stdout.contains("left out by --skip"))

        // A broken check left out is not an error of this run.
        let p = try pack([
            "pack.lua": Self.manifest(["a", "b"]), "a.lua": CommandLineTests.check("return pass('ok')"),
            "b.lua": "return check {",
        ])
        defer { cleanUp(p) }
        #expect(try cli.portdoctor(["run", p.path]).status == 2)
        #expect(try cli.portdoctor(["run", p.path, "--skip", "b"]).status == 0)
        #expect(try cli.portdoctor(["run", p.path, "--only", "a,a"]).status == 0)

        let typo = try cli.portdoctor(["run", Self.example, "--only", "range,reserverd"])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("--only names 'reserverd'"))
        #expect(typo.stderr.contains("(did you mean 'reserved'?)"), "\(typo.stderr)")
        #expect(try cli.portdoctor(["run", Self.example, "--skip", "nope"]).status == 2)
        #expect(try cli.portdoctor(["run", Self.example, "--only", "range,"]).status == 2)
    }

    // MARK: several reports

    @Test func severalReportsInOneRun() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pd-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = folder.appendingPathComponent("r.json").path, tap = folder.appendingPathComponent("r.tap").path
        let junit = folder.appendingPathComponent("r.xml").path
        let run = try cli.portdoctor([
            "run", Self.example, "--param", "port=4243", "--output-json", json, "--output", "tap:" + tap,
            "--output", "junit:" + junit,
        ])
        #expect(run.status == 1)
        #expect(run.stdout.contains("Most likely cause"), "the text report still goes to standard output")
        let root =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        #expect(root?["exit_code"] as? Int == 1)
        #expect((try parseTAP(tap)["failed"] as? [Int]) == [2])
        #expect(try String(contentsOfFile: junit, encoding: .utf8).contains("<testsuites name=\"portdoctor\""))
        // Two reports to one file, or two files replacing standard output, are usage errors.
        #expect(try cli.portdoctor(["run", Self.example, "--output", json, "--output-json", json]).status == 2)
        #expect(try cli.portdoctor(["run", Self.example, "--output", json, "--output", tap]).status == 2)
    }

    // MARK: --every

    /// Waits (up to a generous minute) until the file holds what `done` looks for.
    func waitFor(_ file: String, _ what: String, _ done: (String) -> Bool) throws -> String {
        for _ in 0..<600 {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            if done(text) { return text }
            usleep(100_000)
        }
        Issue.record("timed out waiting for \(what): \((try? String(contentsOfFile: file, encoding: .utf8)) ?? "")")
        throw CancellationError()
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func everyPrintsChangesAndEndsCleanly(signal: Int32) throws {
        let port = try Port()
        let p = try pack(["pack.lua": Self.manifest(["reach"]), "reach.lua": Self.reach])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pd-every-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let out = folder.appendingPathComponent("stdout").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let process = Process()
        process.executableURL = CommandLineTests.binary
        process.arguments = [
            "run", p.path, "--every", "1s", "--param", "port=\(port.number)", "--output-json",
            folder.appendingPathComponent("r.json").path,
        ]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            cleanUp(p)
            try? FileManager.default.removeItem(at: folder)
        }
        let first = try waitFor(out, "the first report") { $0.contains("1 failed") }
        #expect(first.contains("Most likely cause: nothing is listening on the port."))
        port.listen()
        let stamp = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ demo "#
        let up = try waitFor(out, "the check passing") { $0.contains("cause cleared") }
        let lines = up.split(separator: "\n").map(String.init)
        let changes = lines.filter { Self.matches($0, "^" + stamp) }
        #expect(changes.count == 2, "\(up)")
        #expect(changes.first.map { Self.matches($0, stamp + "reach: fail → pass: connected$") } == true, "\(changes)")
        #expect(changes.last.map { Self.matches($0, stamp + "cause cleared: no-listener") } == true)
        // Unchanged runs print nothing: wait for another run (the JSON report is rewritten each time).
        let json = folder.appendingPathComponent("r.json").path
        let stamped = try waitFor(json, "a report") { $0.contains("\"status\": \"pass\"") }
        _ = try waitFor(json, "another run") { $0 != stamped && $0.contains("\"status\": \"pass\"") }
        #expect((try String(contentsOfFile: out, encoding: .utf8)) == up)

        kill(process.processIdentifier, signal)
        // Generous: it must end at once, but a test that hangs tells nobody anything.
        for _ in 0..<300 where process.isRunning { usleep(100_000) }
        try #require(!process.isRunning, "still running 30 s after the signal")
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "the last run passed")
        let final = try String(contentsOfFile: out, encoding: .utf8)
        #expect(final.hasSuffix("\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["r.json", "stdout"])
    }

    @Test func everyRejectsBadDurations() throws {
        for bad in ["0s", "soon", "500ms", "-5s"] {
            let run = try cli.portdoctor(["run", Self.example, "--every", bad])
            #expect(run.status == 2, "\(bad)")
            #expect(run.stderr.contains("--every"), "\(bad): \(run.stderr)")
        }
    }
}
