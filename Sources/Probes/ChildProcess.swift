#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child process started with posix_spawn: for running system tools (`netstat`, `lsof`, `ss`,
/// `ip`, `nft`) without linking the full Foundation (its Process class) into portdoctor.
public struct ChildProcess {
    public let pid: pid_t
    /// The read end of the child's standard output, when captured.
    public let output: Int32?

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// Starts `argv` (argv[0] a path). Standard error goes to /dev/null (or, with `mergeErrors`, into the
    /// captured output); standard output too unless captured.
    public static func start(
        _ argv: [String], captureOutput: Bool = false, input: String? = nil, mergeErrors: Bool = false
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var out: [Int32] = [-1, -1]
        var inp: [Int32] = [-1, -1]
        if captureOutput {
            guard pipe(&out) == 0 else { throw Failure(description: "pipe failed") }
            posix_spawn_file_actions_adddup2(&actions, out[1], 1)
            posix_spawn_file_actions_addclose(&actions, out[0])
            posix_spawn_file_actions_addclose(&actions, out[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if input != nil {
            guard pipe(&inp) == 0 else { throw Failure(description: "pipe failed") }
            posix_spawn_file_actions_adddup2(&actions, inp[0], 0)
            posix_spawn_file_actions_addclose(&actions, inp[0])
            posix_spawn_file_actions_addclose(&actions, inp[1])
        }
        if captureOutput && mergeErrors {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A tool starts as if from a shell: nothing blocked, every signal's default action. The
        // calling thread's mask (a test runner's, a monitor's) would otherwise pass on, and a
        // service restarted through `sv` or `systemctl` could then ignore the TERM that stops it.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        if captureOutput { close(out[1]) }
        if let input {
            close(inp[0])
            var text = input
            text.withUTF8 { _ = write(inp[1], $0.baseAddress, $0.count) }
            close(inp[1])
        }
        guard rc == 0 else {
            if captureOutput { close(out[0]) }
            throw Failure(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        return ChildProcess(pid: pid, output: captureOutput ? out[0] : nil)
    }

    /// Runs to completion; true when it exited 0.
    @discardableResult
    public static func run(_ argv: [String], input: String? = nil) -> Bool {
        guard let child = try? start(argv, input: input) else { return false }
        return child.wait().status == 0
    }

    /// Waits for the child; its exit status and resource usage.
    public func wait() -> (status: Int32, usage: rusage) {
        var status: Int32 = 0
        var usage = rusage()
        _ = wait4(pid, &status, 0, &usage)
        if let output { close(output) }
        return ((status >> 8) & 0xff, usage)
    }

    /// Reads one line of the child's output (blocking).
    public func readLine() -> String {
        guard let output else { return "" }
        var bytes: [UInt8] = []
        var c: UInt8 = 0
        while read(output, &c, 1) == 1, c != 10 { bytes.append(c) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func kill() {
        #if canImport(Glibc)
            _ = Glibc.kill(pid, SIGKILL)
        #else
            _ = Darwin.kill(pid, SIGKILL)
        #endif
    }

    /// Runs `argv` to completion and returns everything it printed, or nil if it could not start.
    public static func output(_ argv: [String]) -> String? {
        guard let child = try? start(argv, captureOutput: true), let fd = child.output else { return nil }
        let text = readAll(fd)
        _ = child.wait()
        return text
    }

    /// Runs `argv` to completion: its exit status, and its output and error messages in the order it
    /// printed them. A tool refused the rights to see something says so on standard error
    /// ("Operation not permitted (you must be root)"), which `output` drops.
    public static func outputAndErrors(_ argv: [String]) -> (status: Int32, text: String)? {
        guard let child = try? start(argv, captureOutput: true, mergeErrors: true), let fd = child.output else {
            return nil
        }
        let text = readAll(fd)
        return (child.wait().status, text)
    }
}

/// Everything readable from `fd` until end of file, as text.
func readAll(_ fd: Int32) -> String {
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        data += buffer[0..<n]
    }
    return String(decoding: data, as: UTF8.self)
}
