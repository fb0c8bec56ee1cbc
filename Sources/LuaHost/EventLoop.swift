import LuaShim

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A single-threaded loop of one-shot timers and file-descriptor readiness, driven by poll(2).
/// Everything runs on the thread that owns the `LuaRuntime`; callbacks resume suspended checks.
public final class EventLoop {
    public struct Token: Hashable, Sendable {
        fileprivate let id: Int
    }

    public struct Readiness: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Readiness(rawValue: Int16(POLLIN))
        public static let writable = Readiness(rawValue: Int16(POLLOUT))
    }

    private struct Timer {
        let deadline: Int64
        let action: () -> Void
    }

    private struct Watch {
        let fd: Int32
        let interest: Readiness
        let action: (_ revents: Int16) -> Void
    }

    private var nextID = 0
    private var timers: [Int: Timer] = [:]
    private var watches: [Int: Watch] = [:]

    public init() {}

    /// Monotonic nanoseconds, the clock all deadlines use.
    public static func now() -> Int64 { pd_now_ns() }

    public var isIdle: Bool { timers.isEmpty && watches.isEmpty }

    private func makeToken() -> Token {
        nextID += 1
        return Token(id: nextID)
    }

    @discardableResult
    public func schedule(at deadline: Int64, _ action: @escaping () -> Void) -> Token {
        let token = makeToken()
        timers[token.id] = Timer(deadline: deadline, action: action)
        return token
    }

    @discardableResult
    public func schedule(after delay: Duration, _ action: @escaping () -> Void) -> Token {
        let (s, atto) = delay.components
        return schedule(at: EventLoop.now() + s * 1_000_000_000 + atto / 1_000_000_000, action)
    }

    /// Calls `action` once, when `fd` is ready for `interest` (or has an error or hang-up).
    @discardableResult
    public func watch(_ fd: Int32, for interest: Readiness, _ action: @escaping (_ revents: Int16) -> Void) -> Token {
        let token = makeToken()
        watches[token.id] = Watch(fd: fd, interest: interest, action: action)
        return token
    }

    public func cancel(_ token: Token) {
        timers[token.id] = nil
        watches[token.id] = nil
    }

    /// Waits until something is due or `limit` (monotonic ns) passes, then runs what is due.
    func turn(until limit: Int64?) {
        var wake = limit
        if let soonest = timers.values.map(\.deadline).min() { wake = min(wake ?? soonest, soonest) }
        let now = EventLoop.now()
        let timeoutMs: Int32
        if let wake {
            timeoutMs = wake <= now ? 0 : Int32(clamping: (wake - now + 999_999) / 1_000_000)
        } else {
            timeoutMs = watches.isEmpty ? 0 : -1
        }

        let ids = Array(watches.keys)
        var fds = ids.map { pollfd(fd: watches[$0]!.fd, events: watches[$0]!.interest.rawValue, revents: 0) }
        if !fds.isEmpty || timeoutMs > 0 {
            let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMs) }
            if n > 0 {
                for (i, id) in ids.enumerated() where fds[i].revents != 0 {
                    guard let watch = watches.removeValue(forKey: id) else { continue }
                    watch.action(fds[i].revents)
                }
            }
        }

        let after = EventLoop.now()
        let due = timers.filter { $0.value.deadline <= after }.sorted { $0.value.deadline < $1.value.deadline }
        for (id, timer) in due where timers.removeValue(forKey: id) != nil {
            timer.action()
        }
    }
}
