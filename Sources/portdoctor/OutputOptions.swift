import ArgumentParser
import Doctor
import Probes

/// Text for people or JSON for scripts: every command that prints data takes `--format`, and
/// `--json` stays as the older spelling of `--format json`.
enum DataFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("text for people, json for scripts.", valueName: "text|json"))
    var format: DataFormat = .text

    @Flag(help: .hidden) var json = false

    var isJSON: Bool { json || format == .json }

    /// One JSON document (the one encoder every command uses), or the text for people.
    func print(_ value: @autoclosure () -> JSONValue, text: () -> String) {
        Swift.print(isJSON ? JSONOutput.render(value()) : text())
    }
}

enum JSONOutput {
    /// Every JSON portdoctor prints: object keys sorted, two-space indent (the report's style).
    static func render(_ value: JSONValue) -> String { value.encoded(pretty: true) }
}

/// The checks the command line repeats: one wording for every port and every wait.
enum Validate {
    static func port(_ value: Int?, _ name: String = "port") throws {
        guard let value else { return }
        guard PortNumber.from(value) != nil else { throw ValidationError(PortNumber.problem(name, got: Int64(value))) }
    }

    /// "host", "host:port", "[v6]:port" or a bare IPv6 address, checked as `--peer` is.
    static func endpoint(_ text: String, defaultPort: UInt16) throws -> (host: String, port: UInt16) {
        switch ParameterValue.endpoint(text.trimmed) {
        case .failure(let e): throw ValidationError(e.reason)
        case .success(let (host, port)): return (host, port.map(UInt16.init) ?? defaultPort)
        }
    }

    static func seconds(_ value: Double, _ option: String, max: Double) throws {
        guard value > 0, value <= max else {
            throw ValidationError("\(option) must be more than 0 and at most \(Int(max)) seconds")
        }
    }
}
