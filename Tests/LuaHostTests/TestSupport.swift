import Foundation
import LuaHost

/// A runtime with the small host modules the tests use to exercise suspension for real:
/// `clock.sleep(seconds)` waits on the event loop's timer, `fd.wait_readable(fd)` on poll(2).
func makeRuntime(limits: LuaLimits = .default, printed: PrintedLines? = nil) throws -> LuaRuntime {
    var options = LuaRuntime.Options()
    options.limits = limits
    if let printed { options.print = { printed.lines.append($0) } }
    let runtime = try LuaRuntime(options: options)
    runtime.register(
        module: "clock",
        [
            "sleep": HostFunction.sleep
        ])
    runtime.register(
        module: "fd",
        [
            "wait_readable": HostFunction { call in
                let fd = Int32(try call.integer(1))
                let loop = call.runtime.loop
                return try call.suspend { pending in
                    let token = loop.watch(fd, for: .readable) { revents in
                        pending.resume(with: [.integer(Int64(revents))])
                    }
                    pending.onCancel { loop.cancel(token) }
                }
            }
        ])
    return runtime
}

final class PrintedLines: @unchecked Sendable {
    var lines: [String] = []
}

extension Result where Success == [LuaValue], Failure == LuaError {
    var error: LuaError? {
        if case .failure(let e) = self { return e }
        return nil
    }
    var values: [LuaValue]? {
        if case .success(let v) = self { return v }
        return nil
    }
}

/// A path in the temp directory that no test creates: hostile scripts try to create it.
func untouchablePath(_ label: String) -> String {
    NSTemporaryDirectory() + "portdoctor-hostile-\(label)-\(UUID().uuidString)"
}
