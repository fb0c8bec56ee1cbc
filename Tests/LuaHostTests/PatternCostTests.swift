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
        #expect(c < 2e5)  // one start where the prefix occurs (n starts would be about 1e8)
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

    @Test func aLongLiteralPrefixPaysForItsPartialMatches() throws {
        // every start compares up to 1,000 bytes before the 'b' fails it
        let c = try #require(cost(String(repeating: "a", count: 100_000), String(repeating: "a", count: 1000) + "b"))
        #expect(c >= 5e7)
    }

    @Test func aBackReferenceWalksTheSubject() throws {
        let c = try #require(cost(String(repeating: "a", count: 1000), "(.*)%1x"))
        #expect(c >= 1e9)  // n starts × n ends of the capture × n bytes compared
    }

    @Test func capturesAreCountedButDoNotHideTheLastItem() throws {
        let text = String(repeating: "x", count: 100_000)
        let bare = try #require(cost(text, "x+"))
        let captured = try #require(cost(text, "(x+)"))
        #expect(captured > bare && captured <= 3 * Double(text.utf8.count) + 2 * bare)
    }

    @Test func aLongSetMakesEveryStepSlower() throws {
        let text = String(repeating: "b", count: 100_000)
        let short = try #require(cost(text, "[ab]+"))
        let long = try #require(cost(text, "[" + String(repeating: "a", count: 100_000) + "b]+"))
        #expect(short <= 3e5 + 10)
        #expect(long >= short * 5000)  // Lua reads the 100,000-byte set for each byte it tests
    }

    @Test func plainSearchCountsTheBytesItCompares() {
        let subject = Array(String(repeating: "a", count: 1_000_000).utf8)
        let needle = Array((String(repeating: "a", count: 100_000) + "b").utf8)
        let refusal = subject.withUnsafeBytes {
            PatternCost.refusal(subject: $0, pattern: needle, initialPosition: nil, use: .plainFind)
        }
        #expect(refusal != nil)
        let ordinary = subject.withUnsafeBytes {
            PatternCost.refusal(subject: $0, pattern: Array("ab".utf8), initialPosition: nil, use: .plainFind)
        }
        #expect(ordinary == nil)
        #expect(!PatternCost.hasSpecials(Array("LISTEN 0.0".utf8.filter { $0 != UInt8(ascii: ".") })))
        #expect(PatternCost.hasSpecials(Array("a-b".utf8)))
    }

    @Test func gmatchTakesACaretLiterally() throws {
        let anchored = try #require(ParsedPattern(Array("^a".utf8)))
        let literal = try #require(ParsedPattern(Array("^a".utf8), caretIsLiteral: true))
        #expect(anchored.anchored && anchored.items.count == 1)
        #expect(!literal.anchored && literal.items.first?.set.single == UInt8(ascii: "^"))
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
