extension HostFunction {
    /// `sleep(seconds)`: suspends the calling check on the loop's timer and returns `seconds`.
    /// Not in the checks' API by default; the self-test and tests register it to exercise suspension.
    public static var sleep: HostFunction {
        HostFunction { call in
            let seconds = try call.number(1)
            guard seconds >= 0, seconds.isFinite else { throw call.argumentError(1, "seconds must be 0 or more") }
            let loop = call.runtime.loop
            return try call.suspend { pending in
                pending.waitingFor = "a \(seconds) s timer"
                let token = loop.schedule(after: .nanoseconds(Int64(seconds * 1e9))) {
                    pending.resume(with: [.number(seconds)])
                }
                pending.onCancel { loop.cancel(token) }
            }
        }
    }
}
