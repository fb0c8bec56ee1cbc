import Doctor
import Testing

/// What issue 13 says a pack author can count on: a cause the pack declares is described in the
/// reports as a shared one is, and `ctx.results` carries an earlier check's evidence.
@Suite struct PackCausesTests {
    static let pack = folder([
        "pack.lua": manifest(
            steps: ["admin", "after"],
            extra: #"causes = { ["router-admin-locked"] = "the router's admin page refuses this computer" },"#),
        "admin.lua": """
        return check { title = "Admin page", run = function()
          return fail { summary = "locked out", cause = "router-admin-locked", evidence = { code = 403, page = "/admin" } }
        end }
        """,
        "after.lua": """
        return check { title = "After", after = { "admin" }, run = function(ctx)
          local e = ctx.results.admin.evidence
          return warn { summary = "admin said " .. e.code .. " at " .. e.page, cause = "firewall-blocks-inbound" }
        end }
        """,
    ])

    @Test func aPackDeclaredCauseIsRenderedWithItsDescription() throws {
        let report = try diagnose(Self.pack).report
        #expect(report.findings.first { $0.id == "admin" }?.cause == "router-admin-locked")
        let words = "the router's admin page refuses this computer"
        let text = TextReporter(color: false).render(report)
        #expect(text.contains("\(words) (router-admin-locked)"), "\(text)")
        #expect(text.contains("Most likely cause: \(words)."), "\(text)")
        let markdown = MarkdownReporter.render(report, plan: [])
        #expect(markdown.contains("Cause: \(words) (`router-admin-locked`)"), "\(markdown)")
        #expect(HTMLReporter.render(report).contains("Cause: the router&#39;s admin page refuses this computer (router-admin-locked)")
            || HTMLReporter.render(report).contains("Cause: the router's admin page refuses this computer (router-admin-locked)"))
        #expect(TAPReporter.render(report).contains(words))
        // A shared cause keeps the vocabulary's words.
        #expect(report.causeWords["firewall-blocks-inbound"] == RootCause.vocabulary["firewall-blocks-inbound"])
    }

    @Test func ctxResultsCarriesAnEarlierChecksEvidence() throws {
        let report = try diagnose(Self.pack).report
        #expect(report.findings.first { $0.id == "after" }?.summary == "admin said 403 at /admin")
    }
}

/// The API-style fixes keep their old fields: `portforward.reflect` has a status word now.
@Suite struct APIStyleTests {
    @Test func reflectSaysUnreachableAsAStatusWord() throws {
        // Port 1 on loopback: nothing listens, the connect is refused, no reflector is reached.
        let pack = folder([
            "pack.lua": manifest(steps: ["r"]),
            "r.lua": passing(
                body: """
                    local r = portforward.reflect("127.0.0.1", { port = 1, timeout = 2 })
                    return pass("%s %s %s", r.status, tostring(r.reached), tostring(r.ok))
                    """),
        ])
        let report = try diagnose(pack).report
        #expect(report.findings.first?.summary == "unreachable false false", "\(report.findings.first?.summary ?? "")")
    }
}
