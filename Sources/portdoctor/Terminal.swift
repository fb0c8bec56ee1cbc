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

/// Colour, prompts and the progress line, for people at a terminal only.
enum Terminal {
    static var color: Bool {
        isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Box-drawing characters and arrows: only on a terminal whose locale is UTF-8 (LC_ALL, else
    /// LC_CTYPE, else LANG, as the C library looks them up), never with NO_COLOR or TERM=dumb (the
    /// person asked for plain output); plain ASCII otherwise (LANG=C, pipes, files).
    static var unicode: Bool {
        let env = ProcessInfo.processInfo.environment
        guard isatty(STDOUT_FILENO) != 0, env["NO_COLOR"].map(\.isEmpty) ?? true, env["TERM"] != "dumb" else {
            return false
        }
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"].lazy.compactMap { env[$0] }.first { !$0.isEmpty } ?? ""
        let charset = locale.lowercased().filter { $0 != "-" }
        return charset.contains("utf8")
    }

    nonisolated(unsafe) private static var progressShown = false

    /// Writes to standard error (unbuffered, so prompts and progress appear at once).
    static func writeError(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var rest = UnsafeRawBufferPointer(buffer)
            while !rest.isEmpty {
                let n = write(STDERR_FILENO, rest.baseAddress, rest.count)
                if n <= 0 { return }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            }
        }
    }

    /// One line on stderr, rewritten in place: "waiting for 203.0.113.7:4242 … 2 s".
    static func showProgress(_ running: [RunningCheck]) {
        let parts = running.prefix(3).map { r in
            "\(r.id): waiting\(r.waitingFor.map { " for \($0)" } ?? "") … \(Int(r.seconds)) s"
        }
        let more = running.count > 3 ? " (+\(running.count - 3) more)" : ""
        writeError(("\r\u{1B}[K" + parts.joined(separator: "; ") + more))
        progressShown = true
    }

    /// One status line on stderr while something slow happens before the checks start.
    static func showStatus(_ text: String) {
        writeError("\r\u{1B}[K" + text)
        progressShown = true
    }

    /// Columns to wrap the report at: the terminal's width when standard output is one, else
    /// COLUMNS if set; nil (no wrapping) for pipes and files, so scripts see whole lines.
    static var width: Int? {
        var size = winsize()
        if isatty(STDOUT_FILENO) != 0, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
    }

    static func clearProgress() {
        if progressShown { writeError("\r\u{1B}[K") }
        progressShown = false
    }

    static func ask(_ question: String) -> Bool {
        clearProgress()
        writeError("\(question) [y/N] ")
        guard let answer = readLine() else { return false }
        return ["y", "yes"].contains(answer.filter { !$0.isWhitespace }.lowercased())
    }
}
