import Doctor
import Foundation

/// Colour, prompts and the progress line, for people at a terminal only.
enum Terminal {
    static var color: Bool {
        isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    nonisolated(unsafe) private static var progressShown = false

    /// One line on stderr, rewritten in place: "waiting for 203.0.113.7:4242 … 2 s".
    static func showProgress(_ running: [RunningCheck]) {
        let parts = running.prefix(3).map { r in
            "\(r.id): waiting\(r.waitingFor.map { " for \($0)" } ?? "") … \(Int(r.seconds)) s"
        }
        let more = running.count > 3 ? " (+\(running.count - 3) more)" : ""
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + parts.joined(separator: "; ") + more).utf8))
        progressShown = true
    }

    static func clearProgress() {
        if progressShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        progressShown = false
    }

    static func ask(_ question: String) -> Bool {
        clearProgress()
        FileHandle.standardError.write(Data("\(question) [y/N] ".utf8))
        guard let answer = readLine() else { return false }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
