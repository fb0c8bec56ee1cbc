import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A connected TCP socket whose reads and writes wait on the loop, each with a timeout.
public final class Connection {
    public enum Failure: String, Sendable, Error {
        case timeout, closed, reset, failed
    }

    public private(set) var fd: Int32
    let loop: EventLoop
    /// Bytes received but not yet handed out (after a line was split off).
    private var buffered: [UInt8] = []

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    deinit { close() }

    public var isOpen: Bool { fd >= 0 }

    /// The loop this connection waits on (tests drive it directly).
    public var loopForTests: EventLoop { loop }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Sends all of `bytes`; completion gets the count sent, or why it stopped.
    public func send(_ bytes: [UInt8], timeout: Duration, _ completion: @escaping (Result<Int, Failure>) -> Void) {
        var sent = 0
        let deadline = EventLoop.now() + nanoseconds(timeout)
        func pump() {
            guard fd >= 0 else { return completion(.failure(.closed)) }
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    sent += n
                    continue
                }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                return completion(.failure(errno == EPIPE || errno == ECONNRESET ? .reset : .failed))
            }
            if sent == bytes.count { return completion(.success(sent)) }
            wait(for: .writable, until: deadline) { ready in
                ready ? pump() : completion(.failure(.timeout))
            }
        }
        pump()
    }

    /// Up to `max` bytes, as soon as any arrive.
    public func receive(max: Int, timeout: Duration, _ completion: @escaping (Result<[UInt8], Failure>) -> Void) {
        if !buffered.isEmpty {
            let chunk = Array(buffered.prefix(max))
            buffered.removeFirst(chunk.count)
            return completion(.success(chunk))
        }
        let deadline = EventLoop.now() + nanoseconds(timeout)
        func attempt() {
            guard fd >= 0 else { return completion(.failure(.closed)) }
            var buffer = [UInt8](repeating: 0, count: Swift.max(1, max))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { return completion(.success(Array(buffer.prefix(n)))) }
            if n == 0 { return completion(.failure(.closed)) }
            if errno != EAGAIN && errno != EWOULDBLOCK {
                return completion(.failure(errno == ECONNRESET ? .reset : .failed))
            }
            wait(for: .readable, until: deadline) { ready in ready ? attempt() : completion(.failure(.timeout)) }
        }
        attempt()
    }

    /// One line without its "\n" (and "\r"), at most `maxLength` bytes long.
    public func receiveLine(
        maxLength: Int, timeout: Duration, _ completion: @escaping (Result<[UInt8], Failure>) -> Void
    ) {
        let deadline = EventLoop.now() + nanoseconds(timeout)
        func scan() {
            if let nl = buffered.firstIndex(of: 10) {
                var line = Array(buffered[..<nl])
                buffered.removeFirst(nl + 1)
                if line.last == 13 { line.removeLast() }
                return completion(.success(line))
            }
            if buffered.count >= maxLength { return completion(.failure(.failed)) }
            let left = deadline - EventLoop.now()
            guard left > 0 else { return completion(.failure(.timeout)) }
            receiveRaw(max: maxLength - buffered.count, timeout: .nanoseconds(left)) { result in
                switch result {
                case .success(let bytes):
                    self.buffered += bytes
                    scan()
                case .failure(let f): completion(.failure(f))
                }
            }
        }
        scan()
    }

    private func receiveRaw(max: Int, timeout: Duration, _ completion: @escaping (Result<[UInt8], Failure>) -> Void) {
        let saved = buffered
        buffered = []
        receive(max: max, timeout: timeout) { result in
            self.buffered = saved + self.buffered
            completion(result)
        }
    }

    /// Waits for readiness or the deadline; the closure gets whether the socket became ready.
    private func wait(for interest: EventLoop.Readiness, until deadline: Int64, _ then: @escaping (Bool) -> Void) {
        var timer: EventLoop.Token?
        let watch = loop.watch(fd, for: interest) { [loop] _ in
            if let timer { loop.cancel(timer) }
            then(true)
        }
        timer = loop.schedule(at: deadline) { [loop] in
            loop.cancel(watch)
            then(false)
        }
    }
}

func nanoseconds(_ d: Duration) -> Int64 {
    let (s, atto) = d.components
    return s * 1_000_000_000 + atto / 1_000_000_000
}
