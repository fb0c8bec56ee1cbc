#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The computer a report was made on. The host name is left out on purpose: reports get pasted into
/// support tickets, and the name says nothing about why a connection fails.
public struct SystemInfo: Sendable, Equatable {
    /// "linux", "macos", "windows".
    public var os: String
    /// The kernel release (`uname -r`), when known.
    public var version: String?
    /// The machine architecture (`uname -m`), when known.
    public var architecture: String?

    public init(os: String, version: String? = nil, architecture: String? = nil) {
        self.os = os
        self.version = version
        self.architecture = architecture
    }

    public static var current: SystemInfo {
        var info = SystemInfo(os: Platform.current.rawValue)
        #if canImport(Glibc) || canImport(Darwin)
            var u = utsname()
            if uname(&u) == 0 {
                func text<T>(_ field: inout T) -> String {
                    withUnsafeBytes(of: &field) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                }
                info.version = text(&u.release)
                info.architecture = text(&u.machine)
            }
        #endif
        return info
    }
}

/// ISO 8601 in UTC to the second ("2026-11-26T04:12:09Z"), without Foundation's formatters (and ICU).
enum Timestamp {
    static func iso8601(_ secondsSince1970: Double) -> String {
        let total = Int64(secondsSince1970.rounded(.down))
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let second = total - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(second / 3600)):\(two(second % 3600 / 60)):\(two(second % 60))Z"
    }
}

/// The calendar time, for reports (the event loop's clock is monotonic and says nothing about dates).
enum WallClock {
    static func secondsSince1970() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
