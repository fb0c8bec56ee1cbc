import BundledChecks
import Doctor
import Foundation
import LuaHost
import Testing

/// The NAT/forward rules (Checks/tcp-service/lib/nat.lua) on evidence tables shaped like
/// `portforward.survey`'s: every verdict, and the cases the old if-chain got wrong.
struct NATRulesTests {
    struct Verdict {
        var kind: String?, status: String?, cause: String?, rule: String?, explanation: String, notes: [String]
        var advice: [String], repair: String?
    }

    /// A single-NAT home: this computer 192.168.1.20 behind a router whose WAN is 203.0.113.5.
    static func home(_ change: (inout [String: LuaValue]) -> Void = { _ in }) -> LuaValue {
        var e: [String: LuaValue] = [
            "local_addresses": ["192.168.1.20"], "default_route": true, "default_gateway": "192.168.1.1",
            "router_wan": "203.0.113.5", "upnp": true, "natpmp": true, "natpmp_status": "answered",
            "reflector": "198.51.100.7:4250", "reflector_address": "198.51.100.7:4250",
            "public_address": "203.0.113.5:40112", "hops": ["192.168.1.1", "203.0.113.1", "198.51.100.7"],
            "port": 4242,
        ]
        change(&e)
        return .table(LuaTable(fields: Dictionary(uniqueKeysWithValues: e.map { (LuaValue.text($0.key), $0.value) })))
    }

    static func decide(_ e: LuaValue, rules: String? = nil) throws -> Verdict {
        let v = try #require(try NATRules.decide(e, rules: rules).tableValue)
        func list(_ key: String) -> [String] { v[key].tableValue?.sequence.compactMap(\.stringValue) ?? [] }
        return Verdict(
            kind: v["kind"].stringValue, status: v["status"].stringValue, cause: v["cause"].stringValue,
            rule: v["rule"].stringValue, explanation: v["explanation"].stringValue ?? "", notes: list("notes"),
            advice: list("advice"), repair: v["repair"].stringValue)
    }

    @Test func aWorkingForwardPasses() throws {
        let v = try Self.decide(
            Self.home {
                $0["connect_back"] = "connected"; $0["mapping_client"] = "192.168.1.20"
            })
        #expect((v.kind, v.status, v.cause) == ("forward-ok", "pass", nil))
        #expect(v.notes.isEmpty)
    }

    @Test func noNATAndFilteredUpstream() throws {
        let direct = try Self.decide(
            Self.home {
                $0["local_addresses"] = ["203.0.113.5"]; $0["connect_back"] = "connected"
            })
        #expect((direct.kind, direct.status) == ("no-nat", "pass"))
        let filtered = try Self.decide(
            Self.home {
                $0["local_addresses"] = ["203.0.113.5"]; $0["connect_back"] = "timeout"
            })
        #expect((filtered.kind, filtered.cause) == ("filtered-upstream", "filtered-upstream"))
    }

    @Test func noDefaultRoute() throws {
        let v = try Self.decide(
            Self.home {
                $0 = ["local_addresses": ["10.0.0.2"], "default_route": false, "upnp": false, "natpmp": false]
            })
        #expect((v.kind, v.cause) == ("no-default-route", "no-default-route"))
    }

    /// The issue's case: the router stopped answering UPnP and NAT-PMP, and the outside's connect-back
    /// is refused by the router itself — nothing is forwarded, which is what to fix.
    @Test func aSilentRouterWithARefusedConnectBackIsAMissingForward() throws {
        let v = try Self.decide(
            Self.home {
                $0["upnp"] = false; $0["natpmp"] = false; $0["natpmp_status"] = "timeout"; $0["router_wan"] = nil
                $0["connect_back"] = "refused"; $0["connect_back_errno"] = 111
                $0["connect_back_to"] = "203.0.113.5:4242"
            })
        #expect((v.kind, v.cause) == ("forward-missing", "port-forward-missing"), "\(v)")
        #expect(v.repair == nil, "no UPnP: --fix cannot add it")
        #expect(v.advice.first?.hasPrefix("Set up the forward in the router's admin page") == true, "\(v.advice)")
    }

    @Test func aSilentRouterWithoutAnOutsideTestIsUPnPUnavailable() throws {
        let v = try Self.decide(
            Self.home {
                $0["upnp"] = false; $0["natpmp"] = false; $0["router_wan"] = nil; $0["public_address"] = nil
                $0["reflector"] = nil; $0["reflector_address"] = nil
            })
        #expect((v.kind, v.cause) == ("upnp-unavailable", "upnp-unavailable"))
        #expect(v.explanation.contains("without a reflector outside"), "\(v.explanation)")
        let dropped = try Self.decide(
            Self.home {
                $0["upnp"] = false; $0["natpmp"] = false; $0["router_wan"] = nil; $0["public_address"] = nil
                $0["reflector_error"] = "cannot reach the reflector: timeout"
            })
        #expect(dropped.kind == "upnp-unavailable")
        #expect(
            dropped.explanation.contains("the reflector did not answer (cannot reach the reflector: timeout)"),
            "\(dropped.explanation)")
    }

    /// No forward: the router's WAN answers the connect-back with a reset. A forward into the void:
    /// silence. The rules tell the two apart from the connect-back alone (UPnP off: no table to read).
    @Test func noForwardAndAForwardIntoTheVoidAreToldApart() throws {
        func off(_ outcome: String) -> LuaValue {
            Self.home {
                $0["upnp"] = false; $0["natpmp"] = false; $0["router_wan"] = nil; $0["connect_back"] = .text(outcome)
            }
        }
        let missing = try Self.decide(off("refused"))
        #expect((missing.kind, missing.cause) == ("forward-missing", "port-forward-missing"))
        for silence in ["timeout", "host-unreachable"] {
            let void = try Self.decide(off(silence))
            #expect((void.kind, void.cause) == ("forward-wrong-target", "port-forward-wrong-target"), "\(silence)")
            #expect(void.explanation.contains("most likely"), "hedged: \(void.explanation)")
            #expect(void.rule == "forward-into-the-void")
        }
    }

    @Test func aForwardInTheTableToAnotherAddress() throws {
        let v = try Self.decide(
            Self.home {
                $0["mapping_client"] = "192.168.1.99"; $0["connect_back"] = "timeout"
            })
        #expect((v.kind, v.cause) == ("forward-wrong-target", "port-forward-wrong-target"))
        #expect(v.explanation.contains("192.168.1.99"))
        #expect(v.repair == "add-forward")
    }

    @Test func aForwardHereThatTheOutsideCannotUseIsFilteredUpstream() throws {
        let v = try Self.decide(
            Self.home {
                $0["mapping_client"] = "192.168.1.20"; $0["connect_back"] = "timeout"
            })
        #expect((v.kind, v.cause) == ("filtered-upstream", "filtered-upstream"))
    }

    @Test func upnpWithoutAMappingAndARefusedConnectBackIsRepairable() throws {
        let v = try Self.decide(Self.home { $0["connect_back"] = "refused" })
        #expect((v.kind, v.cause, v.repair) == ("forward-missing", "port-forward-missing", "add-forward"))
        let untested = try Self.decide(
            Self.home {
                $0["public_address"] = nil; $0["reflector"] = nil; $0["reflector_address"] = nil
            })
        #expect((untested.kind, untested.cause) == ("forward-missing", "port-forward-missing"))
    }

    /// Nothing listens here, or the firewall here blocks: the refused or silent connect-back is this
    /// computer's doing, not evidence about the router. Only the router's own table still speaks.
    @Test func aFailedStepHereKeepsTheConnectBackFromBlamingTheRouter() throws {
        let blocked = Self.home {
            $0["connect_back"] = "timeout"; $0["steps"] = ["listener": "pass", "firewall": "fail"]
        }
        let v = try Self.decide(blocked)
        #expect((v.rule, v.kind, v.cause) == ("blocked-here", "forward-missing", "port-forward-missing"), "\(v)")
        #expect(v.explanation.contains("while the firewall step here fails"), "\(v.explanation)")
        var silentRouter = blocked.tableValue!
        silentRouter["upnp"] = false
        let unknown = try Self.decide(.table(silentRouter))
        #expect((unknown.rule, unknown.status, unknown.cause) == ("blocked-here", "skip", nil), "\(unknown)")
        var mapped = blocked.tableValue!
        mapped["mapping_client"] = "192.168.1.20"
        #expect(try Self.decide(.table(mapped)).status == "skip", "not 'filtered upstream'")
        let noNAT = try Self.decide(
            Self.home {
                $0["local_addresses"] = ["203.0.113.5"]; $0["connect_back"] = "refused"
                $0["steps"] = ["listener": "fail"]
            })
        #expect((noNAT.rule, noNAT.status) == ("blocked-here", "skip"), "\(noNAT)")
    }

    @Test func aStaticForwardWhileUPnPIsOffPassesWithANote() throws {
        let v = try Self.decide(
            Self.home {
                $0["upnp"] = false; $0["natpmp"] = false; $0["router_wan"] = nil; $0["connect_back"] = "connected"
            })
        #expect((v.kind, v.status, v.cause) == ("forward-ok", "pass", nil))
        #expect(v.notes.first?.contains("--fix cannot add forwards") == true, "\(v.notes)")
    }

    @Test func doubleNATFailsUnlessTheOutsideGetsIn() throws {
        let layered = Self.home {
            $0["router_wan"] = "10.0.5.2"; $0["hops"] = ["192.168.1.1", "10.0.5.1", "198.51.100.7"]
            $0["connect_back"] = "refused"
        }
        let v = try Self.decide(layered)
        #expect((v.kind, v.cause) == ("double-nat", "double-nat"))
        var forwarded = layered.tableValue!
        forwarded["connect_back"] = "connected"
        let ok = try Self.decide(.table(forwarded))
        #expect((ok.kind, ok.status, ok.cause) == ("forward-ok", "pass", nil), "\(ok)")
        #expect(ok.explanation.contains("double NAT"))
        #expect(ok.notes.first?.contains("10.0.5.2 is private") == true, "\(ok.notes)")
    }

    /// Without administrator rights the firewall step could not read the rules ("no-permission"): a
    /// failed connect-back may be this computer's firewall, so the router is not blamed on it, and a
    /// double NAT is likely rather than proven.
    @Test func aFirewallThatCouldNotBeReadKeepsTheConnectBackFromBlaming() throws {
        let unread = Self.home {
            $0["connect_back"] = "timeout"; $0["steps"] = ["listener": "pass", "firewall": "no-permission"]
            $0["upnp"] = false; $0["natpmp"] = false
        }
        let v = try Self.decide(unread)
        #expect((v.rule, v.status, v.cause) == ("blocked-here", "skip", nil), "not the router's doing: \(v)")
        let layered = Self.home {
            $0["router_wan"] = "10.0.5.2"; $0["connect_back"] = "timeout"
            $0["steps"] = ["listener": "pass", "firewall": "no-permission"]
        }
        let d = try Self.decide(layered)
        #expect((d.rule, d.status, d.cause) == ("double-nat-firewall-unread", "warn", "double-nat"), "\(d)")
        // Read and allowing: the double NAT is the cause, as before.
        var read = layered.tableValue!
        read["steps"] = ["listener": "pass", "firewall": "pass"]
        let failed = try Self.decide(.table(read))
        #expect((failed.rule, failed.status ?? "fail", failed.cause) == ("double-nat", "fail", "double-nat"), "\(failed)")
    }

    @Test func doubleNATFromTheHopsOrAMismatchedWAN() throws {
        let hops = try Self.decide(
            Self.home {
                $0["router_wan"] = nil; $0["hops"] = ["192.168.1.1", "10.0.5.1"]; $0["upnp"] = false
            })
        #expect(hops.kind == "double-nat")
        let mismatch = try Self.decide(Self.home { $0["public_address"] = "198.51.100.200:5000" })
        #expect(mismatch.kind == "double-nat")
        #expect(mismatch.explanation.contains("the outside sees 198.51.100.200"))
    }

    @Test func carrierGradeNAT() throws {
        let wan = try Self.decide(
            Self.home {
                $0["router_wan"] = "100.64.3.9"; $0["connect_back"] = "refused"
            })
        #expect((wan.kind, wan.cause) == ("cgnat", "cgnat"))
        let hop = try Self.decide(
            Self.home {
                $0["router_wan"] = nil; $0["hops"] = ["192.168.1.1", "100.72.0.1"]; $0["upnp"] = false
            })
        #expect(hop.kind == "cgnat")
        #expect(hop.explanation.contains("100.72.0.1"))
    }

    @Test func anUnresolvedReflectorAndNoEvidence() throws {
        let unresolved = try Self.decide(
            Self.home {
                $0["reflector_unresolved"] = "dns-not-found: Name or service not known"; $0["public_address"] = nil
            })
        #expect((unresolved.kind, unresolved.cause) == ("peer-unresolvable", "peer-unresolvable"))
        let nothing = try Self.decide(
            Self.home {
                $0 = ["local_addresses": ["192.168.1.20"], "default_route": true, "upnp": false, "natpmp": true]
                $0["mapping_client"] = "192.168.1.20"
            })
        #expect((nothing.kind, nothing.status) == ("unknown", "skip"))
    }

    // MARK: who answered, and what reached this network

    /// What a watch during the connect-back saw (`arrivals`): SYNs here by port, the gateway's ARP requests.
    static func arrivals(syn: [Int] = [], asked: [String] = []) -> LuaValue {
        ["syn_ports": .table(LuaTable(sequence: syn.map { .integer(Int64($0)) })),
         "gateway_asked": .table(LuaTable(sequence: asked.map(LuaValue.text)))]
    }

    static func hop(_ ttl: Int, _ status: String, _ from: String? = nil) -> LuaValue {
        var t: [String: LuaValue] = ["ttl": .integer(Int64(ttl)), "status": .text(status)]
        if let from { t["from"] = .text(from) }
        return .table(LuaTable(fields: Dictionary(uniqueKeysWithValues: t.map { (LuaValue.text($0.key), $0.value) })))
    }

    /// Two NATs, the home router silent (no UPnP, no NAT-PMP): the hops say 192.168.1.1, then 10.0.5.1.
    static func doubleNAT(_ change: (inout [String: LuaValue]) -> Void = { _ in }) -> LuaValue {
        home {
            $0["router_wan"] = nil; $0["upnp"] = false; $0["natpmp"] = false; $0["natpmp_status"] = "timeout"
            $0["hops"] = ["192.168.1.1", "10.0.5.1", "198.51.100.7"]
            $0["hop_probes"] = [
                ["ttl": 1, "address": "192.168.1.1", "kind": "time-exceeded"],
                ["ttl": 2, "address": "10.0.5.1", "kind": "time-exceeded"],
                ["ttl": 3, "address": "198.51.100.7", "kind": "unreachable"],
            ]
            change(&$0)
        }
    }

    /// The connection from outside arrived on another port: the forward points at the wrong port — with
    /// or without a second NAT (then a note, not the cause).
    @Test func aConnectBackArrivingOnAnotherPortIsAForwardToTheWrongPort() throws {
        let single = try Self.decide(
            Self.home { $0["connect_back"] = "refused"; $0["arrivals"] = Self.arrivals(syn: [4243]) })
        #expect(
            (single.rule, single.cause) == ("forward-to-another-port", "port-forward-wrong-target"), "\(single)")
        #expect(single.explanation.contains("on port 4243, not on 4242"), "\(single.explanation)")
        let double = try Self.decide(
            Self.doubleNAT { $0["connect_back"] = "refused"; $0["arrivals"] = Self.arrivals(syn: [4243]) })
        #expect((double.rule, double.cause) == ("forward-to-another-port", "port-forward-wrong-target"), "\(double)")
        #expect(double.notes.first?.contains("10.0.5.1") == true, "double NAT as context: \(double.notes)")
    }

    /// The router asked the LAN for another address while the outside connected, and nothing arrived
    /// here: a forward to a stale address — told even while the firewall or the listener here fails.
    @Test func theGatewayLookingForAnotherAddressIsAForwardToIt() throws {
        for step in ["firewall", "listener", "service"] {
            let v = try Self.decide(
                Self.home {
                    $0["connect_back"] = "timeout"; $0["arrivals"] = Self.arrivals(asked: ["192.168.1.99"])
                    $0["steps"] = .table(LuaTable(fields: [.text(step): "fail"]))
                })
            #expect(
                (v.rule, v.cause) == ("forward-to-absent-address", "port-forward-wrong-target"), "\(step): \(v)")
            #expect(v.explanation.contains("192.168.1.99"), "\(v.explanation)")
        }
        let double = try Self.decide(
            Self.doubleNAT { $0["connect_back"] = "timeout"; $0["arrivals"] = Self.arrivals(asked: ["192.168.1.99"]) })
        #expect(double.cause == "port-forward-wrong-target", "\(double)")
    }

    /// The router refused the connect-back itself (its trace: refused at TTL 1, where a router that
    /// forwards would have said "time exceeded"): it has no forward, whatever the gateway was asking
    /// the LAN meanwhile (its lookups of an old address go on for seconds: a lab run caught one).
    @Test func aRefusalFromTheRouterItselfIsNoForwardEvenWhileItLooksForAnotherAddress() throws {
        let v = try Self.decide(
            Self.home {
                $0["connect_back"] = "refused"; $0["arrivals"] = Self.arrivals(asked: ["192.168.1.99"])
                $0["connect_back_trace"] = .table(LuaTable(sequence: [Self.hop(1, "refused")]))
            })
        #expect((v.rule, v.cause) == ("refused-before-here", "port-forward-missing"), "\(v)")
        // Refused one hop past the router (it forwarded): the gateway's question is this connection's.
        let past = try Self.decide(
            Self.home {
                $0["connect_back"] = "refused"; $0["arrivals"] = Self.arrivals(asked: ["192.168.1.99"])
                $0["connect_back_trace"] = .table(
                    LuaTable(sequence: [Self.hop(1, "time-exceeded", "203.0.113.5"), Self.hop(2, "refused")]))
            })
        #expect((past.rule, past.cause) == ("forward-to-absent-address", "port-forward-wrong-target"), "\(past)")
    }

    /// It arrived here on the port: the forward works, whatever the step here that stops it.
    @Test func aConnectBackArrivingHereClearsTheRouter() throws {
        let v = try Self.decide(
            Self.home {
                $0["connect_back"] = "timeout"; $0["arrivals"] = Self.arrivals(syn: [4242])
                $0["steps"] = ["firewall": "fail"]
            })
        #expect((v.rule, v.status, v.cause) == ("forward-reaches-here", "pass", nil), "\(v)")
        // Without the steps (`probe nat`): still the router's part done; this computer does not take it.
        let probe = try Self.decide(
            Self.home { $0["connect_back"] = "refused"; $0["arrivals"] = Self.arrivals(syn: [4242]) })
        #expect((probe.rule, probe.status) == ("forward-reaches-here", "pass"), "\(probe)")
        #expect(probe.explanation.contains("this computer does not take it"), "\(probe.explanation)")
    }

    /// Refused before it got here, with a local fault too: the router has no forward (fail, not the
    /// hedged warning the connect-back alone allows).
    @Test func refusedBeforeReachingHereIsAMissingForwardDespiteALocalFault() throws {
        let v = try Self.decide(
            Self.home {
                $0["connect_back"] = "refused"; $0["arrivals"] = Self.arrivals(); $0["steps"] = ["service": "fail"]
            })
        #expect((v.rule, v.status, v.cause) == ("refused-before-here", "fail", "port-forward-missing"), "\(v)")
    }

    /// Silence and nothing reached this network: a router on the way drops it. Without the watch
    /// (no root), silence keeps its hedged reading, a forward into the void.
    @Test func silenceThatNeverReachedThisNetworkIsFilteredOnTheWay() throws {
        let v = try Self.decide(Self.home { $0["connect_back"] = "timeout"; $0["arrivals"] = Self.arrivals() })
        #expect((v.rule, v.cause) == ("dropped-before-here", "filtered-upstream"), "\(v)")
        let double = try Self.decide(Self.doubleNAT { $0["connect_back"] = "timeout"; $0["arrivals"] = Self.arrivals() })
        #expect((double.rule, double.cause) == ("dropped-before-here", "filtered-upstream"), "\(double)")
        #expect(double.notes.isEmpty == false, "double NAT as a note")
        let unwatched = try Self.decide(
            Self.home { $0["connect_back"] = "timeout"; $0["arrivals"] = ["error": "needs root (CAP_NET_RAW): EPERM"] })
        #expect(unwatched.rule == "forward-into-the-void", "\(unwatched)")
    }

    /// Behind two NATs, refused: the trace says which router. The one holding the public address
    /// (it refused at once): double NAT. One further in (it passed the connection on, answering the
    /// expired TTL from the public address): the home router has no forward. Past both: the forward
    /// points at a port or computer that refuses.
    /// An unanswered connect-back whose trace never got past the reflector's own (private) first
    /// router: the other computer's side drops it on the way out; with hops answering past it, or a
    /// public first hop, it stays filtered in front of this computer.
    @Test func anUnansweredTraceStoppedAtTheReflectorsRouterIsTheOtherEnd() throws {
        func silent(_ trace: [LuaValue], firewall: LuaValue = "pass") -> LuaValue {
            Self.home {
                $0["local_addresses"] = ["203.0.113.5"]
                $0["connect_back"] = "timeout"; $0["connect_back_trace"] = .table(LuaTable(sequence: trace))
                $0["steps"] = ["service": "pass", "listener": "pass", "firewall": firewall]
            }
        }
        let theirs = try Self.decide(
            silent([Self.hop(1, "time-exceeded", "10.231.60.1"), Self.hop(2, "timeout"), Self.hop(3, "timeout")]))
        #expect((theirs.rule, theirs.cause) == ("filtered-at-other-end", "filtered-upstream"), "\(theirs)")
        #expect(theirs.explanation.contains("10.231.60.1"))
        let further = try Self.decide(
            silent([
                Self.hop(1, "time-exceeded", "10.231.60.1"), Self.hop(2, "time-exceeded", "198.51.100.1"),
                Self.hop(3, "timeout"),
            ]))
        #expect((further.kind, further.cause) == ("filtered-upstream", "filtered-upstream"), "\(further)")
        let publicFirst = try Self.decide(
            silent([Self.hop(1, "time-exceeded", "198.51.100.1"), Self.hop(2, "timeout")]))
        #expect(publicFirst.rule != "filtered-at-other-end", "\(publicFirst)")
        // A fault here keeps the connect-back from placing it anywhere.
        let blocked = silent([Self.hop(1, "time-exceeded", "10.231.60.1"), Self.hop(2, "timeout")], firewall: "fail")
        #expect(try Self.decide(blocked).rule != "filtered-at-other-end")
    }

    /// The same silence past the reflector's private first router, when the hop probes from here met
    /// one router and then the reflector itself, and the outside sees this computer's own address:
    /// that router is the only one between the two computers, in front of this one as much as behind
    /// the other — the network between them (`at = "between"`), not the other end's own router.
    @Test func anUnansweredTraceStoppedAtTheOneRouterBetweenIsBetween() throws {
        func probe(_ ttl: Int, _ kind: String, _ address: String) -> LuaValue {
            .table(LuaTable(fields: ["ttl": .integer(Int64(ttl)), "kind": .text(kind), "address": .text(address)]))
        }
        func routed(_ probes: [LuaValue], here: String = "10.231.73.2") -> LuaValue {
            Self.home {
                $0["local_addresses"] = ["10.231.73.2"]; $0["public_address"] = .text("\(here):51000")
                $0["reflector_address"] = "10.231.72.1:4250"; $0["router_wan"] = nil; $0["hops"] = nil
                $0["hop_probes"] = .table(LuaTable(sequence: probes))
                $0["connect_back"] = "timeout"
                $0["connect_back_trace"] = .table(
                    LuaTable(sequence: [Self.hop(1, "time-exceeded", "10.231.72.254"), Self.hop(2, "timeout"), Self.hop(3, "timeout")]))
                $0["steps"] = ["service": "pass", "listener": "pass", "firewall": "pass"]
            }
        }
        let oneRouter = [probe(1, "time-exceeded", "10.231.73.254"), probe(2, "unreachable", "10.231.72.1")]
        let between = try #require(try NATRules.decide(routed(oneRouter)).tableValue)
        #expect(between["rule"].stringValue == "filtered-between" && between["at"].stringValue == "between")
        #expect(between["cause"].stringValue == "filtered-upstream")
        #expect(between["explanation"].stringValue?.contains("10.231.72.254") == true)
        // The reflector answers at TTL 1 (nothing between here and its address): the router the trace
        // met is behind that address, on its own side.
        let theirs = try Self.decide(routed([probe(1, "unreachable", "10.231.72.1")]))
        #expect(theirs.rule == "filtered-at-other-end", "\(theirs)")
        // A NAT in front of this computer: the next hop after that router need not be this computer.
        let natted = try Self.decide(routed(oneRouter, here: "203.0.113.5"))
        #expect(natted.rule != "filtered-between", "\(natted)")
        // No answer from the reflector's address: how many routers lie between is not known.
        let unknown = try Self.decide(routed([probe(1, "time-exceeded", "10.231.73.254")]))
        #expect(unknown.rule == "filtered-at-other-end", "\(unknown)")
    }

    @Test func theConnectBackTraceSaysWhichRouterRefused() throws {
        func refused(_ trace: [LuaValue]) -> LuaValue {
            Self.doubleNAT {
                $0["connect_back"] = "refused"; $0["connect_back_trace"] = .table(LuaTable(sequence: trace))
                $0["steps"] = ["service": "pass", "listener": "pass", "firewall": "pass"]
            }
        }
        let outer = try Self.decide(refused([Self.hop(1, "time-exceeded", "198.51.100.1"), Self.hop(2, "refused")]))
        #expect((outer.kind, outer.cause) == ("double-nat", "double-nat"), "\(outer)")
        // A provider's router with a private address just in front of the public one is not "inside".
        let core = try Self.decide(refused([Self.hop(1, "time-exceeded", "10.9.8.7"), Self.hop(2, "refused")]))
        #expect((core.kind, core.cause) == ("double-nat", "double-nat"), "\(core)")
        let inner = try Self.decide(refused([Self.hop(1, "time-exceeded", "203.0.113.5"), Self.hop(2, "refused")]))
        #expect((inner.rule, inner.cause) == ("refused-behind-nat", "port-forward-missing"), "\(inner)")
        #expect(inner.notes.first?.contains("10.0.5.1") == true, "double NAT as a note: \(inner.notes)")
        let past = try Self.decide(
            refused([
                Self.hop(1, "time-exceeded", "203.0.113.5"), Self.hop(2, "time-exceeded", "203.0.113.5"),
                Self.hop(3, "refused"),
            ]))
        #expect((past.rule, past.cause) == ("refused-behind-nat", "port-forward-wrong-target"), "\(past)")
        // One NAT: refused past the router while this computer listens and lets it in: the wrong port.
        let single = try Self.decide(
            Self.home {
                $0["connect_back"] = "refused"; $0["steps"] = ["service": "pass", "listener": "pass", "firewall": "pass"]
                $0["hop_probes"] = [["ttl": 1, "address": "192.168.1.1", "kind": "time-exceeded"]]
                $0["connect_back_trace"] = [Self.hop(1, "time-exceeded", "203.0.113.5"), Self.hop(2, "refused")]
            })
        #expect((single.rule, single.cause) == ("refused-past-router", "port-forward-wrong-target"), "\(single)")
        // Without the steps here (`probe nat`), this computer may be the one refusing: no such claim.
        var unknownHere = try #require(Self.home {
            $0["connect_back"] = "refused"
            $0["hop_probes"] = [["ttl": 1, "address": "192.168.1.1", "kind": "time-exceeded"]]
            $0["connect_back_trace"] = [Self.hop(1, "time-exceeded", "203.0.113.5"), Self.hop(2, "refused")]
        }.tableValue)
        unknownHere["steps"] = nil
        #expect(try Self.decide(.table(unknownHere)).cause != "port-forward-wrong-target")
        let router = try Self.decide(
            Self.home {
                $0["connect_back"] = "refused"
                $0["hop_probes"] = [["ttl": 1, "address": "192.168.1.1", "kind": "time-exceeded"]]
                $0["connect_back_trace"] = [Self.hop(1, "refused")]
            })
        #expect((router.rule, router.cause) == ("forward-missing", "port-forward-missing"), "\(router)")
    }

    // MARK: the ruleset API

    static let bundled = BundledChecks.files[NATRules.file]!

    /// Rules added, replaced and removed through the API; the result of the last expression is decided.
    static func decide(after script: String, _ e: LuaValue) throws -> Verdict {
        let source = """
            local M = (function()
            \(bundled)
            end)()
            \(script)
            return M
            """
        return try decide(e, rules: source)
    }

    @Test func aRuleIsAddedBeforeAnother() throws {
        let v = try Self.decide(
            after: """
                M.rules:add({ id = "mine", when = function(e, f) return f.outside == "timeout" end,
                              verdict = function() return { kind = "forward-missing", cause = "port-forward-missing", explanation = "mine" } end },
                            { before = "forward-into-the-void" })
                """, Self.home { $0["connect_back"] = "timeout" })
        #expect((v.rule, v.cause, v.status) == ("mine", "port-forward-missing", "fail"))
    }

    @Test func aRuleIsReplacedInPlaceAndRemoved() throws {
        let replaced = try Self.decide(
            after: """
                M.rules:replace("forward-ok", { when = function(e, f) return f.outside == "connected" end,
                                               verdict = function() return { kind = "forward-ok", explanation = "replaced" } end })
                """, Self.home { $0["connect_back"] = "connected" })
        #expect((replaced.rule, replaced.explanation, replaced.status) == ("forward-ok", "replaced", "pass"))
        let removed = try Self.decide(
            after: #"M.rules:remove("forward-into-the-void")"#, Self.home { $0["connect_back"] = "timeout" })
        #expect(removed.kind == "unknown", "\(removed)")
    }

    @Test func mistakesInTheAPIAreSaidPlainly() throws {
        for (script, words) in [
            (#"M.rules:add({ id = "x" })"#, "a NAT rule is { id ="),
            (
                #"M.rules:add({ id = "x", when = function() end, verdict = function() end }, { after = "nope" })"#,
                "no NAT rule 'nope'"
            ),
            (
                #"M.rules:replace("nope", { when = function() end, verdict = function() end })"#,
                "no NAT rule 'nope' to replace"
            ),
            (#"M.rules:add({ id = "forward-ok", when = function() end, verdict = function() end })"#, "use replace"),
        ] {
            #expect(throws: LuaError.self, "\(script)") { try Self.decide(after: script, Self.home()) }
            do { _ = try Self.decide(after: script, Self.home()) } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
    }

    @Test func aCopyLeavesTheBundledRulesAlone() throws {
        let v = try Self.decide(
            after: """
                local mine = M.ruleset()
                mine:remove("forward-ok")
                if #mine.rules ~= #M.rules.rules - 1 then error("the copy did not lose a rule") end
                """, Self.home { $0["connect_back"] = "connected" })
        #expect(v.kind == "forward-ok")
    }

    // MARK: Docs/nat-rules.md's example, an overlay with a rule of its own

    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Docs/examples/nat-rule")

    static func portForward(evidence: LuaValue, overlay: Bool) throws -> Finding {
        let pass = "return check { title = 'stub', run = function() return pass('fine') end }"
        let sources = [
            "pack.lua": manifest(
                "tcp-service", steps: ["listener", "firewall", "pinhole", "port-forward"],
                params: """
                    port = { type = "port", default = 4242, doc = "p" }, peer = { type = "endpoint", doc = "p" },
                    reflector = { type = "endpoint", doc = "r" },
                    role = { type = "choice", choices = { "destination", "source" }, default = "destination", doc = "r" }
                    """),
            "listener.lua": pass, "firewall.lua": pass, "pinhole.lua": SharedStepTests.skippingPinhole,
            "port-forward.lua": try #require(BundledChecks.files["tcp-service/port-forward.lua"]),
        ]
        var request = DiagnosisRequest(pack: "demo")
        request.platform = .linux
        request.parameters.peer = "198.51.100.7"
        if overlay { request.userOverlays = [example.path] }
        let catalog = PackCatalog(packs: PackCatalog.discover(environment: [:]).packs + [folder(sources)])
        let prepared = try Diagnosis.prepare(request, catalog: catalog) { runtime in
            runtime.register(
                module: "portforward", ["survey": HostFunction { call in call.returning(evidence) }])
        }
        guard case .ready(let diagnosis) = prepared else { throw DiagnosisError("the pack did not load") }
        return try #require(diagnosis.run().findings.first { $0.id == "port-forward" })
    }

    @Test func theDocumentedOverlayRuleDecides() throws {
        let silent = Self.home { $0["connect_back"] = "timeout" }
        let bundled = try Self.portForward(evidence: silent, overlay: false)
        #expect(bundled.cause == "port-forward-wrong-target", "\(bundled.summary)")
        guard case .object(let evidence) = bundled.evidence else { throw DiagnosisError("no evidence") }
        #expect(
            evidence["steps"] == .object(["listener": .string("pass"), "firewall": .string("pass")]),
            "the steps here, for the rules: \(evidence)")
        let mine = try Self.portForward(evidence: silent, overlay: true)
        #expect(mine.cause == "port-forward-missing", "\(mine.summary)")
        #expect(
            mine.summary.hasPrefix("from outside the connection got no answer, and this router drops"),
            "\(mine.summary)")
        #expect(mine.origin.contains("overlay"), "\(mine.origin)")
        #expect(mine.repairs.map(\.id) == ["add-forward"], "UPnP answered: --fix can add it")
        // Watched (root) and nothing arrived: the bundled rules say a router on the way drops it; the
        // overlay's rule comes before that one, so the stealth router still means no forward.
        let watched = Self.home { $0["connect_back"] = "timeout"; $0["arrivals"] = Self.arrivals() }
        #expect(try Self.portForward(evidence: watched, overlay: false).cause == "filtered-upstream")
        #expect(try Self.portForward(evidence: watched, overlay: true).cause == "port-forward-missing")
        // Evidence the rule does not cover still gets the bundled verdict.
        let refused = try Self.portForward(evidence: Self.home { $0["connect_back"] = "connected" }, overlay: true)
        #expect(refused.status == .pass, "\(refused.summary)")
    }
}
