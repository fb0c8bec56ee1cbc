import ArgumentParser
import Doctor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

@main
struct PortDoctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portdoctor",
        abstract: "Find out why two computers cannot connect on a TCP port, and what to do about it.",
        discussion: """
            The troubleshooting knowledge lives in Lua check packs. Run the bundled pack with \
            `portdoctor run crashplan`.
            """,
        version: portdoctorVersion,
        subcommands: [
            RunCommand.self, ListCommand.self, ShowCommand.self, ListenCommand.self, ProbeCommand.self,
            ReportCommand.self, PackCommand.self, SelfTestCommand.self,
            BenchCommand.self,
        ]
    )

    /// Exit codes are a contract: 0 nothing failed, 1 a problem was found, 2 the diagnosis could not
    /// be made — which includes every usage error (ArgumentParser's own code for those is 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            if exitCode(for: error) != .success, MonitoringOptions.nagiosRequested(CommandLine.arguments) {
                // A Nagios plugin that cannot run says UNKNOWN on standard output (where Nagios reads it), exit 3.
                print(NagiosReporter.unknown(message(for: error)), terminator: "")
                Terminal.writeError("portdoctor: \(message(for: error))\n")
                exit(withError: ExitCode(3))
            }
            switch exitCode(for: error) {
            case .success: exit(withError: error)  // --help, --version
            case .validationFailure:
                // One style for every refusal: "portdoctor: what is wrong", then how to ask right.
                var message = fullMessage(for: error)
                if message.hasPrefix("Error: ") { message = "portdoctor: " + message.dropFirst(7) }
                Terminal.writeError(message + "\n")
            default:
                // Every other way of not getting a diagnosis (a missing path, an unreadable file, a
                // pack that is not one) is the same kind of answer: one line, exit code 2.
                Terminal.writeError("portdoctor: \(error)\n")
            }
            exit(withError: ExitCode(2))
        }
    }
}
