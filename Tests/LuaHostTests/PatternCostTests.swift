import Testing

@testable import LuaHost

@Suite struct PatternCostTests {
    private func cost(_ subject: String, _ pattern: String) -> Double? {
        Array(subject.utf8).withUnsafeBytes {
            PatternCost.estimate(subject: $0, pattern: Array(pattern.utf8), budget: 0)
        }
    }

    @Test func nestedLazyQuantifiersGrowAsAPowerOfTheSubject() throws {
        let s = String(repeating: "a", count: 1000)
        let one = try #require(cost(s, ".-b"))
        let three = try #require(cost(s, ".-.-.-b"))
        #expect(one >= 1e6 && one < 1e7)  // n starts × n walk
        #expect(three >= 1e12)
    }

    @Test func aLiteralPrefixLimitsTheStarts() throws {
        let xml = String(repeating: "<item>x</item>", count: 1000) + "<controlURL>/ctl</controlURL>"
        let c = try #require(cost(xml, "<controlURL>(.-)</controlURL>"))
        #expect(c < 1e5)  // one start where the prefix occurs
    }

    @Test func aTrailingGreedyItemIsPaidForOnce() throws {
        let text = Array(repeating: String(repeating: "x", count: 79), count: 10_000).joined(separator: "\n")
        let c = try #require(cost(text, "[^\n]+"))
        #expect(c <= 3 * Double(text.utf8.count))
        let anchored = try #require(cost(text, "[^\n]+$"))
        #expect(anchored > 50 * Double(text.utf8.count))  // '$' makes it back off at every start
    }

    @Test func anchoringMakesOneStart() throws {
        let s = String(repeating: "a", count: 10_000)
        let free = try #require(cost(s, "a-b"))
        let anchored = try #require(cost(s, "^a-b"))
        #expect(anchored * 1000 < free)
    }

    @Test func classesAndSetsFollowLuaRules() {
        let digits = ByteSet.luaClass(UInt8(ascii: "d"))!
        #expect(digits.contains(UInt8(ascii: "7")) && !digits.contains(UInt8(ascii: "a")))
        #expect(ByteSet.luaClass(UInt8(ascii: "D"))!.contains(UInt8(ascii: "a")))
        let set = ParsedPattern.bracket(Array("[^%d%-a-c]".utf8))
        #expect(
            !set.contains(UInt8(ascii: "5")) && !set.contains(UInt8(ascii: "-")) && !set.contains(UInt8(ascii: "b")))
        #expect(set.contains(UInt8(ascii: "z")))
        let closing = ParsedPattern(Array("[]]+x".utf8))!
        #expect(closing.items.count == 2 && closing.items[0].set.single == UInt8(ascii: "]"))
    }

    @Test(arguments: ["[abc", "%", "(%b)", "%f"])
    func malformedPatternsAreLeftToLua(_ pattern: String) {
        #expect(cost("aaaa", pattern) == nil)
    }
}
