import Foundation
import LuaHost
import Testing

/// Work done inside one of Lua's C functions is invisible to the instruction hook: no limit can
/// stop it. Each script here would run for hours in C without the sandbox's guards; each must end
/// within its check's limits with a clear error, and the next check in the same state must pass.
@Suite struct CWorkTests {
    static let limits = LuaLimits(instructions: 2_000_000, memoryBytes: 16 << 20, wallClock: .seconds(10))

    private func expectEnds(
        _ source: String, with expected: (LuaError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let ran = try #require(
            runThenRunAnother(source, name: "check.lua", limits: Self.limits),
            "the check never ended: \(source)", sourceLocation: sourceLocation)
        let error = try #require(ran.first.error, "expected an error, got \(ran.first)", sourceLocation: sourceLocation)
        #expect(expected(error), "\(source): \(error.description)", sourceLocation: sourceLocation)
        #expect(ran.next.values == [1000, 2, 2], "\(ran.next)", sourceLocation: sourceLocation)
    }

    private func expectRefused(_ source: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectEnds(
            source,
            with: {
                $0.kind == .runtime && $0.message.contains("check.lua:1: string.")
                    && $0.message.contains("could take too long")
            }, sourceLocation: sourceLocation)
    }

    @Test func theShortPatternBomb() throws {
        try expectRefused(
            #"local found = string.find(string.rep("a", 40), string.rep("a?", 40) .. string.rep("a", 40))"#)
    }

    /// The sandbox keeps each pattern's shape: a refusal must not depend on what is cached.
    @Test func refusalsSurviveTheShapeCache() throws {
        try expectEnds(
            """
            local s, bomb = ('a'):rep(40), ('a?'):rep(40) .. ('a'):rep(40)
            for round = 1, 3 do
              for i = 1, 600 do assert(('x' .. i):find('^x' .. i .. '$')) end
              for _, use in ipairs({ 'find', 'match', 'gmatch', 'gsub' }) do
                local ok, err = pcall(string[use], s, bomb, use == 'gsub' and '' or nil)
                assert(not ok and err:find('could take too long'), use .. ': ' .. tostring(err))
              end
            end
            error('all refused')
            """, with: { $0.message.hasSuffix("all refused") })
    }

    static let backtracking: [String] = {
        var scripts: [String] = []
        for n in [24, 32, 40, 60] {
            let s = "('a'):rep(\(n))"
            let p = "('a?'):rep(\(n)) .. ('a'):rep(\(n))"
            scripts += [
                "local r = \(s):find(\(p))", "local r = \(s):find('^' .. \(p))", "local r = \(s):match(\(p))",
                "local r = \(s):match('(' .. \(p) .. ')$')", "local r = (\(s)):gsub(\(p), '')",
                "for _ in (\(s)):gmatch(\(p)) do end", "local r = (('b'):rep(30) .. \(s)):find(\(p), 31)",
                "local r = (('b'):rep(30) .. \(s)):match(\(p), -\(n))",
            ]
        }
        for k in [10, 16] {
            scripts += [
                "local r = ('a'):rep(60):find(('.-'):rep(\(k)) .. 'x')",
                "local r = ('a'):rep(60):match('^' .. ('.-'):rep(\(k)) .. 'x')",
                "local r = ('a'):rep(50):find(('%w*'):rep(\(k)) .. '!')",
                "local r = ('a1'):rep(25):gsub(('[%w]*'):rep(\(k)) .. '!', '')",
                "for _ in ('abc'):rep(20):gmatch(('%a-'):rep(\(k)) .. '%d') do end",
                "local r = ('a'):rep(60):find(('(.-)'):rep(\(k)) .. 'x')",
            ]
        }
        // not backtracking: each byte tested against a 100,000-byte set
        scripts.append("local r = ('b'):rep(100000):find('[' .. ('a'):rep(100000) .. 'b]+')")
        return scripts
    }()

    @Test(arguments: backtracking)
    func shortBacktrackingPatternsAreRefused(_ script: String) throws {
        try expectRefused(script)
    }

    /// Each call is allowed (under the pattern budget), but a loop of them runs far past the
    /// deadline before the hook, which counts instructions, gets to look at the clock.
    @Test func aLoopOfCostlyPatternCallsEndsAtTheDeadline() throws {
        var tuned = Self.limits
        tuned.wallClock = .seconds(2)
        tuned.instructions = 1_000_000_000
        let limits = tuned
        let ran = try #require(
            finishing(within: 40) {
                let runtime = try? makeRuntime(limits: limits)
                return runtime?.run(
                    "local s = ('a'):rep(9500) for i = 1, 1e9 do s:find('.-b') end", name: "loop.lua")
            } ?? nil, "the check never ended")
        #expect(ran.error?.kind == .timeLimit, "\(ran)")
    }

    // MARK: other C functions

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var script: String
        var expect: LuaError.Kind?  // nil: it returns normally
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "string.rep of an empty string many times", script: "return ('').rep('', math.maxinteger)"),
        Case(name: "string.rep of an empty string, count as text", script: "return string.rep('', '1e18', '')"),
        Case(name: "string.rep past the memory limit", script: "return ('x'):rep(1 << 30)", expect: .memoryLimit),
        Case(
            name: "string.pack with a huge padded field", script: "return string.pack('c1000000000', '')",
            expect: .memoryLimit),
        Case(
            name: "table.concat over a huge range filled by a C __index",
            script: """
                local t = setmetatable({}, { __index = getmetatable, __metatable = '' })
                return table.concat(t, '', 1, math.maxinteger)
                """, expect: .instructionLimit),
        Case(
            name: "table.insert behind a huge __len",
            script: "local t = setmetatable({}, { __len = function() return 1 << 50 end }) table.insert(t, 1, 0)",
            expect: .instructionLimit),
        Case(
            name: "table.remove behind a huge __len",
            script: "local t = setmetatable({}, { __len = function() return 1 << 50 end }) table.remove(t, 1)",
            expect: .instructionLimit),
        Case(
            name: "table.insert behind a __len that grows on the second call",
            script: """
                local calls = 0
                local t = setmetatable({}, { __len = function() calls = calls + 1 return calls == 1 and 3 or 1 << 50 end })
                table.insert(t, 1, 0)
                assert(calls == 1 and rawget(t, 1) == 0)
                """),
        Case(name: "table.move of a huge range", script: "table.move({}, 1, 1 << 50, 2)", expect: .instructionLimit),
        Case(
            name: "table.sort behind a huge __len, no comparator",
            script: """
                local t = setmetatable({}, {
                  __len = function() return 1 << 30 end, __index = getmetatable, __newindex = rawequal, __metatable = 1 })
                table.sort(t)
                """, expect: .instructionLimit),
        Case(
            name: "table.sort behind a huge __len, a C comparator",
            script: """
                local t = setmetatable({}, {
                  __len = function() return 1 << 30 end, __index = getmetatable, __newindex = rawequal, __metatable = 1 })
                table.sort(t, rawequal)
                """, expect: .instructionLimit),
        Case(
            name: "load of a chunk whose parse is quadratic, or huge",
            script: """
                local parts = {}
                for i = 1, 20000 do parts[i] = '::l' .. i .. ':: x = 1' end
                local f, err = load('local x ' .. table.concat(parts, ' '))
                assert(not f and err:find('too large'), err)
                local comment = '-- ' .. ('x'):rep(1000) .. '\\n'
                f, err = load(function() return comment end)
                assert(not f and err:find('too large'), err)
                assert(load('return 1')() == 1)
                """),
    ]

    @Test(arguments: cases)
    func otherCFunctionsEnd(_ c: Case) throws {
        var limits = Self.limits
        limits.memoryBytes = 64 << 20
        let ran = try #require(runThenRunAnother(c.script, name: "check.lua", limits: limits), "never ended")
        if let kind = c.expect {
            let error = try #require(ran.first.error, "expected \(kind), got \(ran.first)")
            #expect(error.kind == kind, "\(error.kind): \(error.description)")
        } else {
            #expect(ran.first.error == nil, "\(ran.first)")
        }
        #expect(ran.next.values == [1000, 2, 2], "\(ran.next)")
    }

    @Test func wrappedTableFunctionsBehaveAsLuasOwn() throws {
        let runtime = try makeRuntime()
        let result = runtime.run(
            """
            local t = {1, 2, 3}
            table.insert(t, 1, 0) table.insert(t, 5) table.insert(t, 3, 9)
            local removed = table.remove(t, 1) .. table.remove(t) .. tostring(table.remove({}))
            local m = table.move({1, 2, 3}, 1, 3, 2)
            local words = {'b', 'c', 'a'}
            table.sort(words)
            table.sort(t, function(a, b) return a > b end)
            local meta = setmetatable({}, { __index = function(_, k) return 'v' .. k end })
            local ok, err = pcall(table.sort, { {}, {} })
            local ok2, err2 = pcall(table.insert, {1}, 5, 0)
            return table.concat(t, ','), removed, table.concat(m, ','), table.concat(words), table.concat(meta, '-', 1, 3),
              err, err2:match("bad argument #2 to '[%w.]*insert' %(position out of bounds%)") ~= nil,
              ('ab'):rep(2, '-'), ('').rep('', 3)
            """, name: "same.lua")
        #expect(
            result.values
                == [
                    "9,3,2,1", "05nil", "1,1,2,3", "abc", "v1-v2-v3", "attempt to compare two table values",
                    true, "ab-ab", "",
                ], "\(result)")
    }

    // MARK: ordinary patterns

    /// Every pattern literal in Checks/, and the idioms checks commonly use, on short and on long
    /// text: the guard that now runs on every call must not refuse any of them.
    @Test func patternsChecksUseAreAccepted() throws {
        let checks = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Checks").standardized
        var patterns: Set<String> = [
            "^%d+%.%d+%.%d+%.%d+$", "^%s*(.-)%s*$", "[^\n]+", "(%w+)=(%w+)", "^(%S+)%s+(%S+)", "%d+",
            "^%[?([%x:%.]+)%]?:(%d+)$", "^tcp%s+LISTEN%s+%d+%s+%d+%s+[%d%.]+:(%d+)%s.-pid=(%d+)", "(.-):(%d+)$",
            "%s+", "^#", "^(%w+):%s*(.*)$", "<(%w+)>(.-)</%1>", "%f[%w]%w+", "%b()",
        ]
        let files = FileManager.default.enumerator(atPath: checks.path)?.compactMap { $0 as? String } ?? []
        #expect(files.contains { $0.hasSuffix(".lua") }, "no checks found at \(checks.path)")
        let literal = try Regex(#":(?:match|find|gmatch|gsub)\(\s*(?:"([^"]*)"|'([^']*)')"#)
        for file in files where file.hasSuffix(".lua") {
            let text = try String(contentsOf: checks.appendingPathComponent(file), encoding: .utf8)
            for m in text.matches(of: literal) {
                if let p = (m.output[1].substring ?? m.output[2].substring) { patterns.insert(String(p)) }
            }
        }
        let line = "tcp   LISTEN 0 128 127.0.0.1:4242 0.0.0.0:* users:((\"java\",pid=812,fd=3))"
        // The guard used to let every subject of 64 bytes or less through: those must still pass.
        let subjects = [
            "", "192.168.1.20", String(repeating: "a", count: 64), String(repeating: "1", count: 64),
            String(repeating: " ", count: 64), String(repeating: "(a)", count: 21), line,
        ]
        // Whole command outputs, with the idioms meant for them.
        let text = Array(repeating: line, count: 2000).joined(separator: "\n")
        for pattern in ["[^\n]+", "%d+", "%s+", "pid=(%d+)", "LISTEN", "\n"] {
            for use in [PatternCost.Use.find, .match, .gmatch, .gsub] {
                let refusal = Array(text.utf8).withUnsafeBytes {
                    PatternCost.refusal(subject: $0, pattern: Array(pattern.utf8), initialPosition: nil, use: use)
                }
                #expect(refusal == nil, "\(use) '\(pattern)' on the whole text: \(refusal ?? "")")
            }
        }
        for pattern in patterns {
            for subject in subjects {
                for use in [PatternCost.Use.find, .match, .gmatch, .gsub] {
                    let refusal = Array(subject.utf8).withUnsafeBytes {
                        PatternCost.refusal(subject: $0, pattern: Array(pattern.utf8), initialPosition: nil, use: use)
                    }
                    #expect(refusal == nil, "\(use) '\(pattern)' on \(subject.prefix(40))…: \(refusal ?? "")")
                }
            }
        }
    }
}
