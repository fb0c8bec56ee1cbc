import CLua
import LuaShim

/// Cost of calling into the host from Lua: a no-op Swift host function against a no-op C function
/// registered in the same module table, measured in one run, alternating rounds.
public struct BridgeBenchmark {
    public struct Result: Sendable {
        public var swiftNanoseconds: Double
        public var cNanoseconds: Double
        public var emptyLoopNanoseconds: Double
        public var ratio: Double { swiftNanoseconds / cNanoseconds }

        public var report: String {
            func f(_ x: Double) -> String { String(Int((x * 10).rounded())).paddedDecimal }
            return """
                Lua → host call cost (\(LuaRuntime.luaVersion), median of rounds, empty-loop cost removed)
                  no-op C function      \(f(cNanoseconds)) ns/call
                  no-op Swift function  \(f(swiftNanoseconds)) ns/call
                  ratio Swift / C       \(String(Int((ratio * 100).rounded())).paddedRatio)   (target ≤ 1.50)
                  empty loop            \(f(emptyLoopNanoseconds)) ns/iteration
                """
        }
    }

    public var calls: Int
    public var rounds: Int

    public init(calls: Int, rounds: Int) {
        self.calls = calls
        self.rounds = rounds
    }

    public func measure() throws -> Result {
        var options = LuaRuntime.Options()
        options.limits = LuaLimits(instructions: .max / 2, memoryBytes: 64 << 20, wallClock: .seconds(3600))
        let runtime = try LuaRuntime(options: options)
        runtime.register(module: "bench", ["swift_noop": HostFunction { _ in .none }], cFunctions: ["c_noop": pd_noop])
        let source = """
            local name = ...
            local f = name and bench[name]
            local n = \(calls)
            local clock = os.clock
            local t0 = clock()
            if f then for _ = 1, n do f() end else for _ = 1, n do end end
            return (clock() - t0) * 1e9 / n
            """
        let chunk = try runtime.load(source, name: "bench")
        var swift: [Double] = []
        var c: [Double] = []
        var empty: [Double] = []
        func time(_ function: String?) throws -> Double {
            let task = runtime.spawn(chunk, arguments: [function.map { .text($0) } ?? .nil], name: "bench")
            runtime.run()
            guard case .success(let values) = task.outcome!, let ns = values.first?.doubleValue else {
                throw LuaError(kind: .runtime, message: "benchmark chunk failed: \(String(describing: task.outcome))")
            }
            return ns
        }
        for _ in 0..<rounds {
            empty.append(try time(nil))
            c.append(try time("c_noop"))
            swift.append(try time("swift_noop"))
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        let base = median(empty)
        return Result(
            swiftNanoseconds: median(swift) - base, cNanoseconds: median(c) - base, emptyLoopNanoseconds: base)
    }
}

extension String {
    fileprivate var paddedDecimal: String {
        let digits = count < 2 ? String(repeating: "0", count: 2 - count) + self : self
        let s = digits.dropLast() + "." + digits.suffix(1)
        return String(repeating: " ", count: max(0, 6 - s.count)) + s
    }
    fileprivate var paddedRatio: String {
        let digits = count < 3 ? String(repeating: "0", count: 3 - count) + self : self
        return digits.dropLast(2) + "." + digits.suffix(2)
    }
}
