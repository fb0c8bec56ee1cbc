import ArgumentParser
import Doctor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `portdoctor pack test PATH`: runs the cases in a pack's tests/ folder against replayed
/// primitive answers (no network, no firewall, no service touched) and counts how they went.
struct PackTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a pack's tests: recorded or mocked primitive answers, and the findings they must give.",
        discussion: """
            Each JSON file in the pack's tests/ folder with an "expect" object is a case: the primitive \
            answers come from a recording ("replay": "file.json", made with `portdoctor run --record`) \
            and/or inline "calls"; "expect" gives the opening cause and each check's status and cause. \
            See Docs/writing-checks.md, "Testing a pack".

            Exit status: 0 every case passed, 1 a case failed, 2 the cases could not be read.

            Examples:
              portdoctor pack test ./my-pack
              portdoctor pack test Checks/crashplan --case service-stopped
            """)

    @Argument(help: "The pack folder (its tests/ folder holds the cases).")
    var path: String

    @Option(name: .customLong("case"), help: ArgumentHelp("Run only the cases with these names. Repeatable.", valueName: "name"))
    var only: [String] = []

    @Flag(name: .shortAndLong, help: "Also list the cases that passed.")
    var verbose = false

    func run() throws {
        var cases: [PackTestCase]
        do { cases = try PackTests.cases(inPack: path) } catch { throw Failure(error.description) }
        if !only.isEmpty {
            let unknown = only.filter { name in !cases.contains { $0.name == name } }
            guard unknown.isEmpty else {
                throw Failure("no case named \(unknown.joined(separator: ", ")) in \(path)/tests")
            }
            cases = cases.filter { only.contains($0.name) }
        }
        let catalog = PackCatalog.discover(environment: ProcessInfo.processInfo.environment)
        var passed = 0
        var failed = 0
        for (c, result) in zip(cases, PackTests.run(cases, pack: path, catalog: catalog)) {
            if result.passed {
                passed += 1
                if verbose { print("ok    \(c.name)") }
            } else {
                failed += 1
                print("FAIL  \(c.name)\(c.description.map { " (\($0))" } ?? "")")
                for f in result.failures { print("      \(f)") }
            }
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}
