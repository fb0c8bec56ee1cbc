import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// What reached this computer's network while the reflector connected back: the connect-back's SYNs
/// that arrived here (and on which port: a forward to the wrong port shows as a SYN to another one),
/// and the addresses the default gateway asked for on the LAN (ARP "who has X?": a router forwarding
/// to an address no computer has any more looks for it, in vain, in front of everyone on the LAN).
/// Seen with a packet socket (Linux AF_PACKET), so only with CAP_NET_RAW (root); without it the watch
/// says why and sees nothing. It only reads: nothing is sent.
public final class ArrivalWatch {
    public struct Seen: Sendable, Encodable, Equatable {
        /// Ports on this computer that TCP SYNs from the watched address arrived at, first seen first.
        public var synPorts: [Int] = []
        /// IPv4 addresses the gateway asked for (ARP requests), not this computer's, first seen first.
        public var gatewayAsked: [String] = []
        /// Why nothing could be watched ("needs root (CAP_NET_RAW): …"); nil when the watch ran.
        public var error: String?

        public init(synPorts: [Int] = [], gatewayAsked: [String] = [], error: String? = nil) {
            self.synPorts = synPorts
            self.gatewayAsked = gatewayAsked
            self.error = error
        }
    }

    private let fd: Int32
    private let loop: EventLoop
    private let from: [UInt8]?
    private let gateway: [UInt8]?
    private let local: Set<[UInt8]>
    private var seen = Seen()
    private var token: EventLoop.Token?
    private var stopped = false
    /// A bound on what is kept: a busy LAN must not grow the evidence without limit.
    private static let keep = 16

    /// Starts watching for SYNs from `from` and for ARP requests by `gateway` (both numeric IPv4).
    public init(from: String, gateway: String?, localAddresses: [String], on loop: EventLoop) {
        self.loop = loop
        self.from = Self.octets(from)
        self.gateway = gateway.flatMap(Self.octets)
        self.local = Set(localAddresses.compactMap(Self.octets))
        #if os(Linux)
            let all = UInt16(0x0003).bigEndian  // ETH_P_ALL
            fd = socket(
                AF_PACKET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                Int32(all))
            if fd < 0 {
                let code = errno
                seen.error =
                    (code == EPERM || code == EACCES ? "needs root (CAP_NET_RAW): " : "cannot watch: ")
                    + errorText(code)
                return
            }
            arm()
        #else
            fd = -1
            seen.error = "watching arrivals is done on Linux only"
        #endif
    }

    deinit { _ = stop() }

    /// Stops watching and returns what was seen (later calls return the same).
    public func stop() -> Seen {
        guard !stopped else { return seen }
        stopped = true
        if let token { loop.cancel(token) }
        if fd >= 0 {
            drain()
            close(fd)
        }
        return seen
    }

    private func arm() {
        token = loop.watch(fd, for: .readable) { [weak self] _ in
            guard let self, !self.stopped else { return }
            self.drain()
            self.arm()
        }
    }

    private func drain() {
        #if os(Linux)
            var buffer = [UInt8](repeating: 0, count: 256)
            // sockaddr_ll: family u16, protocol u16 (network order), ifindex i32, hatype u16, pkttype u8, …
            var address = [UInt8](repeating: 0, count: 32)
            for _ in 0..<512 {
                var length = socklen_t(address.count)
                let n = buffer.withUnsafeMutableBytes { b in
                    address.withUnsafeMutableBytes { a in
                        recvfrom(
                            fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT),
                            a.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
                    }
                }
                if n < 0 { return }
                let protocolType = UInt16(address[2]) << 8 | UInt16(address[3])
                let outgoing = address[10] == 4  // PACKET_OUTGOING: this computer's own packets
                if outgoing { continue }
                let packet = buffer[0..<min(n, buffer.count)]
                switch protocolType {
                case 0x0800: ipv4(Array(packet))
                case 0x0806: arp(Array(packet))
                default: continue
                }
            }
        #endif
    }

    func ipv4(_ p: [UInt8]) {
        guard let from, p.count >= 20, p[0] >> 4 == 4, p[9] == 6 else { return }
        let header = Int(p[0] & 0x0F) * 4
        guard p.count >= header + 14, Array(p[12..<16]) == from else { return }
        let flags = p[header + 13]
        guard flags & 0x02 != 0, flags & 0x10 == 0 else { return }  // SYN without ACK: a connection attempt
        let port = Int(p[header + 2]) << 8 | Int(p[header + 3])
        if !seen.synPorts.contains(port), seen.synPorts.count < Self.keep { seen.synPorts.append(port) }
    }

    func arp(_ p: [UInt8]) {
        // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, operation 1 (request).
        guard let gateway, p.count >= 28, p[4] == 6, p[5] == 4, p[6] == 0, p[7] == 1,
            p[2] == 0x08, p[3] == 0x00
        else { return }
        let sender = Array(p[14..<18])
        let target = Array(p[24..<28])
        guard sender == gateway, !local.contains(target), target != gateway else { return }
        let text = target.map(String.init).joined(separator: ".")
        if !seen.gatewayAsked.contains(text), seen.gatewayAsked.count < Self.keep { seen.gatewayAsked.append(text) }
    }

    static func octets(_ ip: String) -> [UInt8]? {
        let parts = ip.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        return parts.count == 4 && ip.split(separator: ".", omittingEmptySubsequences: false).count == 4 ? parts : nil
    }
}
