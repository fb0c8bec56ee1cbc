import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Something under way that can be stopped (when the check waiting for it is ended).
public final class Cancellation {
    private var handlers: [() -> Void] = []
    public private(set) var isCancelled = false

    public init() {}

    public func onCancel(_ handler: @escaping () -> Void) { handlers.append(handler) }

    public func cancel() {
        guard !isCancelled else { return }
        isCancelled = true
        let h = handlers
        handlers = []
        h.forEach { $0() }
    }

    func clear() { handlers = [] }
}

/// The telnet test, done properly: TCP connect with a timeout to every address of a host in turn,
/// without blocking the loop, each outcome classified.
public enum TCPProbe {
    public struct Options: Sendable {
        /// Per address.
        public var timeout: Duration = .seconds(3)
        /// Keep the connection open (for send/receive) instead of closing it at once.
        public var keepOpen = false
        /// This computer's address to connect from (numeric), for addresses of its family; nil: the
        /// kernel's choice (for IPv6 often a temporary address, where a reflector's connect-back
        /// should test the stable one).
        public var source: String?

        public init(timeout: Duration = .seconds(3), keepOpen: Bool = false, source: String? = nil) {
            self.timeout = timeout
            self.keepOpen = keepOpen
            self.source = source
        }
    }

    /// `completion` runs once on the loop, with the result and, if asked to keep it, the connection.
    @discardableResult
    public static func connect(
        host: String, port: UInt16, options: Options = Options(), on loop: EventLoop,
        _ completion: @escaping (ConnectResult, Connection?) -> Void
    ) -> Cancellation {
        let cancellation = Cancellation()
        Resolver.resolve(host, port: port, on: loop) { resolution in
            guard !cancellation.isCancelled else { return }
            switch resolution {
            case .failure(let status, let words):
                completion(
                    ConnectResult(host: host, port: port, status: status, attempts: [], errno: 0, error: words), nil)
            case .addresses(let addresses):
                attempt(
                    addresses, index: 0, done: [], host: host, port: port, options: options, loop: loop,
                    cancellation: cancellation, completion)
            }
        }
        return cancellation
    }

    private static func attempt(
        _ addresses: [SocketAddress], index: Int, done: [ConnectAttempt], host: String,
        port: UInt16, options: Options, loop: EventLoop, cancellation: Cancellation,
        _ completion: @escaping (ConnectResult, Connection?) -> Void
    ) {
        guard index < addresses.count else {
            let best = done.min { $0.status.evidenceRank < $1.status.evidenceRank }!
            completion(
                ConnectResult(
                    host: host, port: port, status: best.status, attempts: done, remote: best.remote,
                    errno: best.errno, error: best.error), nil)
            return
        }
        let remote = addresses[index]
        let started = EventLoop.now()
        func finish(_ fd: Int32, _ code: Int32, timedOut: Bool = false) {
            cancellation.clear()
            let rtt = Double(EventLoop.now() - started) / 1e6
            let status: ConnectStatus = timedOut ? .timeout : ConnectStatus.classify(errno: code)
            let record = ConnectAttempt(
                remote: remote, status: status, errno: timedOut ? ETIMEDOUT : code,
                error: status == .connected ? nil : (timedOut ? "no answer within the timeout" : errorText(code)),
                rttMilliseconds: rtt)
            if status == .connected {
                let local = SocketAddress.of(fd, peer: false)
                let connection = options.keepOpen ? Connection(fd: fd, loop: loop) : nil
                if connection == nil { close(fd) }
                completion(
                    ConnectResult(
                        host: host, port: port, status: .connected, attempts: done + [record],
                        local: local, remote: remote, rttMilliseconds: rtt, errno: 0, error: nil),
                    connection)
                return
            }
            if fd >= 0 { close(fd) }
            attempt(
                addresses, index: index + 1, done: done + [record], host: host, port: port, options: options,
                loop: loop, cancellation: cancellation, completion)
        }

        let fd = socket(
            remote.posixFamily,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return finish(-1, errno) }
        if let text = options.source, let from = SocketAddress(numeric: text, port: 0), from.family == remote.family,
            from.withSockaddr({ bind(fd, $0, $1) }) != 0
        {
            return finish(fd, errno)
        }
        let rc = remote.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return finish(fd, 0) }
        guard errno == EINPROGRESS else { return finish(fd, errno) }

        let (s, atto) = options.timeout.components
        let deadline = started + s * 1_000_000_000 + atto / 1_000_000_000
        var timer: EventLoop.Token?
        let watch = loop.watch(fd, for: .writable) { _ in
            if let timer { loop.cancel(timer) }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
            finish(fd, code)
        }
        timer = loop.schedule(at: deadline) {
            loop.cancel(watch)
            finish(fd, ETIMEDOUT, timedOut: true)
        }
        cancellation.onCancel {
            loop.cancel(watch)
            if let timer { loop.cancel(timer) }
            close(fd)
        }
    }
}
