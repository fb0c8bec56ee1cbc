import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A single-threaded loop of one-shot timers and file-descriptor readiness, driven by poll(2).
/// Everything runs on the thread that owns it (the `LuaRuntime`'s); callbacks resume suspended
/// checks. Other threads hand work back through a `Mailbox`.
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
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public var isIdle: Bool { timers.isEmpty && watches.isEmpty && mailbox.isEmpty }

    /// Where other threads post closures to run on this loop; posting wakes the loop.
    public let mailbox = Mailbox()

    deinit { mailbox.close() }

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
    public func turn(until limit: Int64?) {
        var wake = limit
        if let soonest = timers.values.map(\.deadline).min() { wake = min(wake ?? soonest, soonest) }
        let now = EventLoop.now()
        var timeoutMs: Int32
        if let wake {
            timeoutMs = wake <= now ? 0 : Int32(clamping: (wake - now + 999_999) / 1_000_000)
        } else {
            // Nothing scheduled: block only if something (a watch, another thread) can wake us.
            timeoutMs = watches.isEmpty && !mailbox.expectingPosts ? 0 : -1
        }
        if !mailbox.isEmpty { timeoutMs = 0 }

        let ids = Array(watches.keys)
        var fds = ids.map { pollfd(fd: watches[$0]!.fd, events: watches[$0]!.interest.rawValue, revents: 0) }
        fds.append(pollfd(fd: mailbox.wakeFD, events: Int16(POLLIN), revents: 0))
        let wait = timeoutMs
        let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), wait) }
        if n > 0 {
            for (i, id) in ids.enumerated() where fds[i].revents != 0 {
                guard let watch = watches.removeValue(forKey: id) else { continue }
                watch.action(fds[i].revents)
            }
        }
        for work in mailbox.drain() { work() }

        let after = EventLoop.now()
        let due = timers.filter { $0.value.deadline <= after }.sorted { $0.value.deadline < $1.value.deadline }
        for (id, timer) in due where timers.removeValue(forKey: id) != nil {
            timer.action()
        }
    }
}

/// Closures other threads hand to the loop. Posting writes a byte to a pipe the loop polls.
public final class Mailbox: Sendable {
    private struct State {
        var queue: [@Sendable () -> Void] = []
        var outstanding = 0
        var closed = false
    }

    private let state = Mutex(State())
    let wakeFD: Int32
    private let postFD: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe failed")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeFD = fds[0]
        postFD = fds[1]
    }

    func close() {
        state.withLock { $0.closed = true }
        _ = Glibc.close(wakeFD)
        _ = Glibc.close(postFD)
    }

    var isEmpty: Bool { state.withLock { $0.queue.isEmpty } }
    /// Work has been started elsewhere that will post back: the loop may block waiting for it.
    var expectingPosts: Bool { state.withLock { $0.outstanding > 0 } }

    /// Call before handing work to another thread that will `post` its result.
    public func expectPost() { state.withLock { $0.outstanding += 1 } }

    /// Runs `work` on the loop's thread at its next turn. Safe from any thread.
    public func post(_ work: @escaping @Sendable () -> Void) {
        let open = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.queue.append(work)
            s.outstanding = max(0, s.outstanding - 1)
            return true
        }
        if open {
            var byte: UInt8 = 1
            _ = write(postFD, &byte, 1)
        }
    }

    func drain() -> [@Sendable () -> Void] {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeFD, &buffer, buffer.count) > 0 {}
        return state.withLock { s in
            defer { s.queue = [] }
            return s.queue
        }
    }
}
