@testable import Probes

extension FuzzTargets {
    /// macOS `netstat -anv`, `lsof -F`, Windows `netstat -ano`: the first byte picks the format.
    static let netstat = FuzzTarget(name: "netstat") { bytes in
        guard let first = bytes.first else { return }
        let input = text(Array(bytes.dropFirst()))
        let lines = input.split(separator: "\n", omittingEmptySubsequences: false).count
        let entries: [SocketEntry] =
            switch first % 3 {
            case 0: NetstatParsers.macNetstat(input)
            case 1: NetstatParsers.lsofFields(input)
            default: NetstatParsers.windowsNetstat(input)
            }
        // Each entry comes from a line (lsof: a record of several); more entries than lines is invention.
        try require(entries.count <= lines, "\(entries.count) sockets from \(lines) lines")
    }
}
