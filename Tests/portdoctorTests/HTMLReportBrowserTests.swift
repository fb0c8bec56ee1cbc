import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The HTML report in a real browser (Debian's chromium, headless): it draws (a screenshot of the
/// right size, in which the SVG path's stop colour shows), fetches nothing (the browser's network log
/// holds no request from the page, checked against a page that does fetch), and parses as well-formed
/// (libxml2 as XML, html5lib strictly as HTML5).
@Suite(
    .enabled(
        if: HTMLBrowser.available || ProcessInfo.processInfo.environment["CI"] != nil,
        "needs root (an empty network namespace), chromium, xmllint and python3-html5lib: .ci/install-deps --test"))
struct HTMLReportBrowserTests {
    /// A saved report with text that must be escaped, and the evidence a picture is drawn from.
    static let report = #"""
        {"schema": 3, "pack": "crashplan", "version": "0.1.0", "title": "Connections <between> \"computers\" & co",
         "platform": "linux", "vendor": "Acme <b>Router</b>", "started_at": "2026-11-26T04:02:04Z",
         "system": {"os": "linux", "version": "6.8.0", "arch": "x86_64"},
         "parameters": {"peer": "backup.example.net", "port": "4242", "role": "destination", "token": "(secret)"},
         "parameter_sources": {"peer": "command-line", "port": "default", "role": "default", "token": "environment"},
         "checks": [
          {"id": "firewall", "title": "The firewall lets the port in", "status": "fail",
           "summary": "incoming TCP 4242 is dropped by nftables </details><script>alert(1)</script>",
           "cause": "firewall-blocks-inbound", "advice": ["sudo nft add rule inet filter input tcp dport 4242 accept"],
           "evidence": {"decision": "drop", "tool": "nftables", "rule": "inet filter input handle 7: drop ]]> <!--",
                        "password": "hunter2"},
           "repairs": [{"id": "open", "title": "Open TCP 4242", "changes": "adds an accept rule", "privileged": true,
                        "outcome": "offered", "detail": null}],
           "next": null, "origin": "crashplan", "duration_ms": 3, "error": null, "output": null},
          {"id": "port-forward", "title": "The router forwards the port", "status": "warn",
           "summary": "the forward cannot be checked while the firewall drops", "cause": "port-forward-missing",
           "advice": ["Forward TCP 4242 to 192.168.1.20 in the router's admin page"],
           "evidence": {"local_addresses": ["192.168.1.20"], "default_gateway": "192.168.1.1", "hops": ["192.168.1.1"],
                        "router_wan": "198.51.100.7", "public_address": "198.51.100.7:40312", "connect_back": "timeout",
                        "gateway": {"location": "http://192.168.1.1:5000/rootDesc.xml", "manufacturer": "Acme"}},
           "repairs": [], "next": null, "origin": "crashplan", "duration_ms": 900, "error": null, "output": null}
         ],
         "summary": {"pass": 0, "warn": 1, "fail": 1, "error": 0, "skip": 0}, "exit_code": 1,
         "primary": {"check": "firewall", "cause": "firewall-blocks-inbound", "first_step": "sudo nft add rule"},
         "also": [{"check": "port-forward", "cause": "port-forward-missing", "summary": "…", "first_step": "Forward"}],
         "duration_ms": 1200}
        """#

    @Test func theReportOpensInARealBrowser() throws {
        let dir = try HTMLBrowser.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = dir.appendingPathComponent("saved.json")
        try Self.report.write(to: saved, atomically: true, encoding: .utf8)
        let html = dir.appendingPathComponent("report.html")
        let made = try HTMLBrowser.run(ReleaseBinary.path, ["report", saved.path, "--output", html.path])
        #expect(made.status == 0, "\(made.output)")
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(!page.contains("hunter2"), "a secret in the evidence")
        #expect(!page.contains("<script"), "text not escaped")

        // Well-formed: libxml2's XML parser (stricter than HTML's), and html5lib's strict HTML5 parser.
        let xml = try HTMLBrowser.run("/usr/bin/xmllint", ["--noout", html.path])
        #expect(xml.status == 0, "xmllint: \(xml.output)")
        let html5 = try HTMLBrowser.run(
            "/usr/bin/python3",
            ["-c", "import html5lib,sys\nhtml5lib.HTMLParser(strict=True).parse(open(sys.argv[1],'rb'))", html.path])
        #expect(html5.status == 0, "html5lib: \(html5.output)")

        // Drawn: a screenshot of the window's size, with the stop's red (#c62828: the SVG's only) in it.
        let shot = try HTMLBrowser.open(html, in: dir, name: "report")
        #expect(shot.png.width == HTMLBrowser.window.width && shot.png.height == HTMLBrowser.window.height)
        #expect(shot.png.bytes > 10_000, "\(shot.png)")
        #expect(shot.png.stopRed > 50, "the SVG's stop is not on the screenshot: \(shot.png)")
        let dom = try HTMLBrowser.browse(HTMLBrowser.flags(dir, "dom") + ["--dump-dom", html.absoluteString])
        let svg = try #require(
            dom.output.range(
                of: #"<svg[^>]* width="([1-9][0-9]*)" height="([1-9][0-9]*)""#, options: .regularExpression))
        #expect(!svg.isEmpty)
        // Nothing fetched by the page.
        #expect(shot.pageRequests.isEmpty, "the page fetched: \(shot.pageRequests)")

        // The check can fail: the same page with an image and a stylesheet from elsewhere, and without
        // the policy that forbids fetching them, is caught.
        let fetching = dir.appendingPathComponent("fetching.html")
        let bad = page.split(separator: "\n").filter { !$0.contains("Content-Security-Policy") }.joined(separator: "\n")
            .replacingOccurrences(
                of: "<h1>",
                with:
                    "<img src=\"http://192.0.2.1/x.png\" alt=\"\"/><link rel=\"stylesheet\" href=\"https://192.0.2.2/s.css\"/><h1>"
            )
        try bad.write(to: fetching, atomically: true, encoding: .utf8)
        let caught = try HTMLBrowser.open(fetching, in: dir, name: "fetching")
        #expect(caught.pageRequests.contains { $0.hasPrefix("http://192.0.2.1/") }, "\(caught.pageRequests)")
    }
}

/// Chromium headless, run in an empty network namespace when we may make one (root), with its
/// network log kept.
enum HTMLBrowser {
    static let chromium = "/usr/bin/chromium"
    static let window = (width: 1000, height: 700)

    static var available: Bool {
        getuid() == 0
            && [chromium, "/usr/bin/xmllint", "/usr/bin/python3", "/usr/bin/unshare"].allSatisfy {
                FileManager.default.isExecutableFile(atPath: $0)
            }
            && (try? run("/usr/bin/python3", ["-c", "import html5lib"]).status) == 0
    }

    struct Output {
        var status: Int32
        var output: String
    }

    struct PNG: CustomStringConvertible {
        var width = 0, height = 0, bytes = 0, stopRed = 0
        var description: String { "\(width)x\(height), \(bytes) bytes, \(stopRed) stop-red pixels" }
    }

    static func temporaryFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-html-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// Flags for a quiet, throwaway browser: its own profile, no GPU, no sandbox (we may be root).
    static func flags(_ dir: URL, _ name: String) -> [String] {
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--user-data-dir=\(dir.path)/profile-\(name)",
        ]
    }

    /// The browser in an empty network namespace of its own: neither the page nor the browser's own
    /// background requests (update checks) can leave this computer.
    static func browse(_ arguments: [String]) throws -> Output {
        try run("/usr/bin/unshare", ["-n", chromium] + arguments)
    }

    /// Opens `page`: the screenshot, and the URLs the page itself asked for (the browser's own
    /// background requests, "not an origin", are not the page's).
    static func open(_ page: URL, in dir: URL, name: String) throws -> (png: PNG, pageRequests: [String]) {
        let png = dir.appendingPathComponent("\(name).png")
        let netlog = dir.appendingPathComponent("\(name)-netlog.json")
        let browser =
            flags(dir, name) + [
                "--log-net-log=\(netlog.path)", "--screenshot=\(png.path)",
                "--window-size=\(window.width),\(window.height)", page.absoluteString,
            ]
        let r = try browse(browser)
        guard r.status == 0 else {
            throw BrowserFailure(description: "chromium: exit \(r.status): \(r.output.suffix(800))")
        }
        let inspect = try run("/usr/bin/python3", ["-c", inspector, png.path, netlog.path])
        guard inspect.status == 0 else { throw BrowserFailure(description: "inspecting: \(inspect.output)") }
        let lines = inspect.output.split(separator: "\n").map(String.init)
        let numbers = (lines.first ?? "").split(separator: " ").compactMap { Int($0) }
        guard numbers.count == 4 else { throw BrowserFailure(description: "inspecting: \(inspect.output)") }
        return (
            PNG(width: numbers[0], height: numbers[1], bytes: numbers[2], stopRed: numbers[3]),
            Array(lines.dropFirst())
        )
    }

    struct BrowserFailure: Error, CustomStringConvertible { var description: String }

    /// Reads the PNG (size, and how many pixels are exactly the stop's red) with zlib alone, and lists
    /// the URL requests in the network log that a page started.
    static let inspector = #"""
        import json, struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        assert data[:8] == b'\x89PNG\r\n\x1a\n'
        pos, idat = 8, b''
        while pos < len(data):
            n, kind = struct.unpack('>I4s', data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + n]
            if kind == b'IHDR':
                w, h, depth, colour = struct.unpack('>IIBB', body[:10])
            elif kind == b'IDAT':
                idat += body
            pos += 12 + n
        assert depth == 8 and colour in (2, 6), (depth, colour)
        bpp = 3 if colour == 2 else 4
        raw, stride = zlib.decompress(idat), w * bpp
        prev, red, i = bytearray(stride), 0, 0
        for y in range(h):
            f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
            i += 1 + stride
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                if f == 1: line[x] = (line[x] + a) & 255
                elif f == 2: line[x] = (line[x] + b) & 255
                elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
                elif f == 4:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            for x in range(0, stride, bpp):
                if line[x] == 0xc6 and line[x + 1] == 0x28 and line[x + 2] == 0x28: red += 1
            prev = line
        print(w, h, len(data), red)
        log = json.load(open(sys.argv[2]))
        names = {v: k for k, v in log['constants']['logEventTypes'].items()}
        for e in log.get('events', []):
            p = e.get('params') or {}
            if names.get(e['type']) == 'URL_REQUEST_START_JOB' and 'url' in p and p.get('initiator') != 'not an origin':
                print(p['url'])
        """#
}
