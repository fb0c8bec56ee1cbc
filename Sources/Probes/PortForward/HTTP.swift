import Reactor

/// Just enough HTTP/1.1 for UPnP: one request per connection, bounded in size and time, because
/// a router's answers are untrusted (huge bodies, slow drips, garbage).
public enum MiniHTTP {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]  // lower-cased names
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case connect(ConnectStatus), timeout, tooLarge(Int), malformed(String), closed

        public var description: String {
            switch self {
            case .connect(let s): "could not connect (\(s.rawValue))"
            case .timeout: "no complete answer in time"
            case .tooLarge(let n): "the answer is larger than \(n) bytes"
            case .malformed(let why): "not an HTTP answer (\(why))"
            case .closed: "the connection closed early"
            }
        }
    }

    /// "http://10.0.0.1:5000/rootDesc.xml" → host, port, path.
    public static func split(_ url: String) -> (host: String, port: UInt16, path: String)? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst(7)
        let hostPort = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(hostPort.count)
        var host = String(hostPort), port: UInt16 = 80
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            if let p = UInt16(hostPort[close...].dropFirst(2)) { port = p }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = UInt16(hostPort[hostPort.index(after: colon)...]) else { return nil }
            port = p
        }
        return (host, port, path.isEmpty ? "/" : String(path))
    }

    public static func request(
        _ method: String, url: String, headers: [(String, String)] = [], body: [UInt8] = [],
        maxBytes: Int = 256 << 10, timeout: Duration = .seconds(5), on loop: EventLoop,
        _ completion: @escaping (Result<Response, Failure>) -> Void
    ) {
        guard let (host, port, path) = split(url) else {
            return completion(.failure(.malformed("not an http:// URL: \(url)")))
        }
        let deadline = EventLoop.now() + nanoseconds(timeout)
        TCPProbe.connect(host: host, port: port, options: .init(timeout: timeout, keepOpen: true), on: loop) {
            result, conn in
            guard let conn else { return completion(.failure(.connect(result.status))) }
            var head = "\(method) \(path) HTTP/1.1\r\nHost: \(SocketAddress.text(host: host, port: Int(port)))\r\nConnection: close\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            head += "Content-Length: \(body.count)\r\n\r\n"
            conn.send(Array(head.utf8) + body, timeout: timeout) { sent in
                guard case .success = sent else {
                    conn.close()
                    return completion(.failure(.closed))
                }
                var received: [UInt8] = []
                func more() {
                    let left = deadline - EventLoop.now()
                    guard left > 0 else {
                        conn.close()
                        return completion(.failure(.timeout))
                    }
                    conn.receive(max: 16384, timeout: .nanoseconds(left)) { chunk in
                        switch chunk {
                        case .success(let bytes):
                            received += bytes
                            if received.count > maxBytes + 16384 {
                                conn.close()
                                return completion(.failure(.tooLarge(maxBytes)))
                            }
                            if let done = parse(received, maxBytes: maxBytes, complete: false) {
                                conn.close()
                                return completion(done)
                            }
                            more()
                        case .failure(.closed):
                            conn.close()
                            completion(parse(received, maxBytes: maxBytes, complete: true) ?? .failure(.closed))
                        case .failure(.timeout):
                            conn.close()
                            completion(.failure(.timeout))
                        case .failure:
                            conn.close()
                            completion(.failure(.closed))
                        }
                    }
                }
                more()
            }
        }
    }

    /// A complete response from `bytes`, nil when more is needed (and the peer has not closed).
    static func parse(_ bytes: [UInt8], maxBytes: Int, complete: Bool) -> Result<Response, Failure>? {
        guard let end = find([13, 10, 13, 10], in: bytes) else {
            return complete ? .failure(.malformed("no end of headers")) : nil
        }
        let headText = String(decoding: bytes[..<end], as: UTF8.self)
        let lines = headText.split(separator: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else {
            return .failure(.malformed("bad status line"))
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].trimmingWhitespace)
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            guard let decoded = dechunk(body) else { return complete ? .failure(.malformed("bad chunked body")) : nil }
            body = decoded
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            guard length >= 0 else { return .failure(.malformed("negative Content-Length")) }
            guard length <= maxBytes else { return .failure(.tooLarge(maxBytes)) }
            if body.count < length { return complete ? .failure(.closed) : nil }
            body = Array(body.prefix(length))
        } else if !complete {
            return nil  // read to the end
        }
        guard body.count <= maxBytes else { return .failure(.tooLarge(maxBytes)) }
        return .success(Response(status: status, headers: headers, body: body))
    }

    /// nil until the last (zero-length) chunk has arrived.
    static func dechunk(_ b: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        // A chunk's size comes from the router: never negative, never past the bytes we have.
        while i <= b.count {
            guard let lineEnd = find([13, 10], in: Array(b[i...])).map({ $0 + i }) else { return nil }
            let sizeText = String(decoding: b[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingWhitespace, radix: 16), size >= 0 else { return nil }
            i = lineEnd + 2
            if size == 0 { return out }
            guard size <= b.count - i else { return nil }
            out += b[i..<(i + size)]
            i += size + 2
        }
        return nil
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count)
        where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }
}

/// Tolerant extraction from small XML documents (device descriptions, SOAP answers): elements by
/// local name, whatever their namespace prefix. No entity expansion beyond the five predefined.
public enum MiniXML {
    /// Text of every element named `name` (e.g. "controlURL", "s:Body" → "Body").
    public static func values(_ name: String, in xml: String) -> [String] {
        blocks(name, in: xml).map { unescape(strippingTags($0)) }
    }

    public static func value(_ name: String, in xml: String) -> String? { values(name, in: xml).first }

    /// The inner XML of every element named `name`.
    public static func blocks(_ name: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = Substring(xml)
        while let open = rest.firstRange(of: "<") {
            rest = rest[open.upperBound...]
            let tag = rest.prefix { $0 != ">" && $0 != " " && $0 != "/" && $0 != "\t" && $0 != "\n" }
            let local = tag.split(separator: ":").last.map(String.init) ?? String(tag)
            guard local == name, let gt = rest.firstIndex(of: ">") else { continue }
            if rest[..<gt].hasSuffix("/") {  // <name/>
                out.append("")
                continue
            }
            let inner = rest[rest.index(after: gt)...]
            let closing = "</" + tag + ">"
            guard let close = inner.firstRange(of: closing) else { break }
            out.append(String(inner[..<close.lowerBound]))
            rest = inner[close.upperBound...]
        }
        return out
    }

    static func strippingTags(_ s: String) -> String {
        var out = ""
        var inTag = false
        for c in s {
            if c == "<" { inTag = true } else if c == ">" { inTag = false } else if !inTag { out.append(c) }
        }
        return String(Substring(out).trimmingWhitespace).filter { $0 != "\n" }
    }

    public static func unescape(_ s: String) -> String {
        s.replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&quot;", with: "\"")
            .replacing("&apos;", with: "'").replacing("&amp;", with: "&")
    }

    public static func escape(_ s: String) -> String {
        s.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }
}
