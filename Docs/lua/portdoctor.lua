---@meta portdoctor
-- LuaLS stubs for portdoctor check packs. Add Docs/lua to "workspace.library" in .luarc.json.

---@alias portdoctor.Status "pass"|"warn"|"fail"|"skip"
---@alias portdoctor.Cause "peer-unresolvable"|"peer-unreachable"|"no-listener"|"listener-loopback-only"|"port-in-use"|"firewall-blocks-inbound"|"firewall-blocks-outbound"|"port-forward-missing"|"port-forward-wrong-target"|"double-nat"|"cgnat"|"upnp-unavailable"|"service-not-running"|"service-not-installed"|"filtered-upstream"|"no-default-route"|"manual-step"|"firewall-blocks-inbound-ipv6"|"listener-ipv4-only"|"peer-ipv6-unreachable"|"peer-ipv4-unreachable"|"ipv6-address-temporary"|"ipv6-pinhole-missing"|string
---@alias portdoctor.Platform "linux"|"macos"|"windows"

---@class portdoctor.Param
---@field type "port"|"endpoint"|"host"|"integer"|"boolean"|"string"|"choice"
---@field doc string
---@field default? string|number|boolean
---@field choices? string[]
---@field required? boolean

---@class portdoctor.Limits
---@field timeout? number seconds
---@field instructions? integer
---@field memory? integer MiB

---@class portdoctor.Pack
---@field id string
---@field version string
---@field title string
---@field description? string
---@field params? table<string, portdoctor.Param>
---@field steps string[]
---@field causes? table<string, string>
---@field limits? portdoctor.Limits

---@class portdoctor.ResultFields
---@field summary string
---@field cause? portdoctor.Cause
---@field advice? string|string[]
---@field evidence? any
---@field next? string
---@field repairs? string[]

---@class portdoctor.Result: portdoctor.ResultFields
---@field status portdoctor.Status

---@class portdoctor.Endpoint
---@field host string
---@field port? integer

---@class portdoctor.Context
---@field params table<string, any>
---@field pack { id: string, version: string }
---@field check { id: string, title: string }
---@field platform portdoctor.Platform
---@field vendor? { manufacturer?: string, model?: string }
---@field results table<string, portdoctor.Result>
---@field command string the command line the person ran, shell-quoted (for "run `sudo …`" advice)
---@field privileged boolean runs as the administrator (root)

---@class portdoctor.Repair
---@field title string
---@field changes string what it changes, in words
---@field privileged? boolean
---@field apply fun(ctx: portdoctor.Context, id: string): (boolean?, string?)

---@class portdoctor.Check
---@field title string
---@field run fun(ctx: portdoctor.Context): portdoctor.Result
---@field needs? string[]
---@field next? string[]
---@field platforms? portdoctor.Platform[]
---@field timeout? number
---@field instructions? integer
---@field memory? integer
---@field repairs? table<string, portdoctor.Repair>

---@class portdoctor.Placement
---@field before? string
---@field after? string

---@class portdoctor.Insertion: portdoctor.Placement
---@field checks string[]

---@class portdoctor.Overlay
---@field extends string
---@field id? string
---@field title? string
---@field when? { platform?: portdoctor.Platform|portdoctor.Platform[], vendor?: { manufacturer?: string, model?: string } }
---@field insert? portdoctor.Insertion|portdoctor.Insertion[]
---@field replace? table<string, string>
---@field skip? string[]
---@field move? { step: string, before?: string, after?: string }[]

---@param manifest portdoctor.Pack
---@return portdoctor.Pack
function pack(manifest) end

---@param definition portdoctor.Check
---@return portdoctor.Check
function check(definition) end

---@param definition portdoctor.Overlay
---@return portdoctor.Overlay
function overlay(definition) end

---@param summary string|portdoctor.ResultFields
---@param ... any format arguments
---@return portdoctor.Result
function pass(summary, ...) end

---@param summary string|portdoctor.ResultFields
---@param ... any
---@return portdoctor.Result
function warn(summary, ...) end

---@param summary string|portdoctor.ResultFields
---@param ... any
---@return portdoctor.Result
function fail(summary, ...) end

---@param summary string|portdoctor.ResultFields
---@param ... any
---@return portdoctor.Result
function skip(summary, ...) end

---A module from the pack's lib/ folder ("a.b" is lib/a/b.lua).
---@param name string
---@return any
function require(name) end

---@class portdoctor.Address
---@field ip string
---@field port integer
---@field family "ipv4"|"ipv6"
---@field text string "127.0.0.1:4242", "[::1]:4242"

---@alias portdoctor.ConnectStatus "connected"|"refused"|"timeout"|"host-unreachable"|"net-unreachable"|"reset"|"blocked-locally"|"dns-not-found"|"dns-temporary"|"failed"

---@class portdoctor.ConnectAttempt
---@field remote portdoctor.Address
---@field status portdoctor.ConnectStatus
---@field errno integer
---@field error? string
---@field rtt_ms number

---@class portdoctor.Connection
local Connection = {}
---@param data string
---@param timeout? number seconds
---@return integer|nil sent, string? err
function Connection:send(data, timeout) end
---@param max? integer
---@param timeout? number
---@return string|nil data, string? err
function Connection:receive(max, timeout) end
---@param timeout? number
---@param max? integer
---@return string|nil line, string? err
function Connection:receiveline(timeout, max) end
function Connection:close() end

---@class portdoctor.ConnectResult
---@field status portdoctor.ConnectStatus
---@field host string
---@field port integer
---@field rtt_ms? number
---@field local? portdoctor.Address
---@field remote? portdoctor.Address
---@field errno integer
---@field error? string
---@field attempts portdoctor.ConnectAttempt[]
---@field conn? portdoctor.Connection

---@class portdoctor.Socket
---@field proto "tcp"|"udp"
---@field family "ipv4"|"ipv6"
---@field state string
---@field local portdoctor.Address
---@field remote? portdoctor.Address
---@field scope "wildcard"|"loopback-only"|"specific"
---@field dual_stack? boolean
---@field owner? { pid: integer, program: string, comm?: string }
---@field uid? integer the user the socket belongs to (Linux)
---@field access? "no-permission" the owner exists but is hidden from this user
---@field access_error? string

---@class portdoctor.BindResult
---@field status "free"|"in-use"|"denied"|"unavailable"|"failed"
---@field address portdoctor.Address
---@field proto "tcp"|"udp"
---@field errno integer
---@field error? string
---@field holders portdoctor.Socket[]

---@class portdoctor.UDPSocket
local UDPSocket = {}
---@param data string
---@param ip string numeric IPv4 or IPv6
---@param port integer
---@param options? { ttl?: integer }
---@return integer|nil sent, string? err
function UDPSocket:sendto(data, ip, port, options) end
---@param max? integer
---@param timeout? number
---@return string|nil data, string ip_or_err, integer? port
function UDPSocket:receivefrom(max, timeout) end
---@return portdoctor.Address
function UDPSocket:getsockname() end
function UDPSocket:close() end

socket = {}
---@param options? { family?: "ipv4"|"ipv6", bind?: string, port?: integer }
---@return portdoctor.UDPSocket|nil, string?
function socket.udp(options) end
---@param host string
---@param port integer
---@param options? { timeout?: number, keep?: boolean }
---@return portdoctor.ConnectResult
function socket.connect(host, port, options) end
---@param port integer
---@param address? string
---@param proto? "tcp"|"udp"
---@return portdoctor.BindResult
function socket.bind_test(port, address, proto) end
---@param host string a name or a numeric address
---@return { status: "resolved"|"dns-not-found"|"dns-temporary", addresses: string[], error?: string }
function socket.resolve(host) end

netstat = {}
---@param filter? { proto?: "tcp"|"udp", state?: string, port?: integer, owners?: boolean }
---@return portdoctor.Socket[]
function netstat.list(filter) end
---@param port integer
---@param proto? "tcp"|"udp"
---@return portdoctor.Socket[]
function netstat.listeners(port, proto) end

---@class portdoctor.FirewallQuestion
---@field port integer
---@field direction? "in"|"out"
---@field proto? "tcp"|"udp"
---@field remote? string the other computer's address
---@field interface? string
---@field program? string the program that listens (macOS and Windows decide per program)
---@field family? "ipv4"|"ipv6" the family asked about when no remote says it (default ipv4)

---@class portdoctor.FirewallVerdict
---@field decision "allow"|"drop"|"reject"|"unknown"|"no-permission"
---@field tool string
---@field rule? string
---@field note? string
---@field fix? string
---@field family "ipv4"|"ipv6" the family the verdict is for
---@field neighbour_discovery? portdoctor.NeighbourDiscovery IPv6 only (not loopback): whether neighbour discovery gets in

---Incoming ICMPv6 neighbour discovery (solicitation, type 135; advertisement, type 136) on the
---input path. Without it nothing arrives over IPv6, whatever `decision` says for the TCP packet.
---@class portdoctor.NeighbourDiscovery
---@field decision "allow"|"drop"|"reject"|"unknown"|"no-permission"
---@field packet "neighbour-solicitation"|"neighbour-advertisement" the packet the decision is about (the first refused, else the advertisement)
---@field rule? string the rule or chain policy that decided
---@field note? string
---@field fix? string the command that lets ICMPv6 types 133–137 in

firewall = {}
---@param question portdoctor.FirewallQuestion
---@return portdoctor.FirewallVerdict
function firewall.check(question) end
---Only inside a repair's apply function.
---@param question portdoctor.FirewallQuestion
---@return true? ok, string what nil and why on failure
function firewall.open(question) end

---@class portdoctor.ServiceStatus
---@field manager "systemd"|"systemd-user"|"launchd"|"windows-scm"|"openrc"|"runit"|"supervisord"
---@field name string
---@field installed boolean
---@field running boolean
---@field state string
---@field pid? integer
---@field seconds? integer
---@field enabled? boolean
---@field cgroup? string
---@field access? "no-permission" the manager would not tell this user (then state is "no-permission" too)
---@field access_error? string the manager's own words

service = {}
---@param name string
---@param options? { manager?: string, config?: string } config: supervisord's config file (supervisorctl -c)
---@return portdoctor.ServiceStatus|nil, string?
function service.status(name, options) end
---@param name string
---@param options? { manager?: string, config?: string }
---@return string|nil command, string? why
function service.restart_command(name, options) end
---Only inside a repair's apply function.
---@param name string
---@param options? { manager?: string, config?: string, port?: integer, timeout?: number }
---@return true? ok, string what, { seconds: number, listening?: boolean, status?: portdoctor.ServiceStatus }
function service.restart(name, options) end

---@class portdoctor.ReflectResult
---@field status "answered"|"refused"|"unreachable"|"garbled" answered: the reflector did what was asked; refused: it said no (see error)
---@field reached boolean
---@field ok boolean
---@field seen? string
---@field error? string
---@field connect? portdoctor.ConnectResult
---@field connect_back? { port: integer, status: portdoctor.ConnectStatus, rtt_ms?: number, error?: string, errno?: integer, address?: string }

portforward = {}
---@param host string the reflector (portdoctor listen)
---@param options? { port?: integer, connect_back?: integer, token?: string, timeout?: number, from?: string } from: this computer's address to ask from (the connect-back goes there)
---@return portdoctor.ReflectResult
function portforward.reflect(host, options) end
---@param port integer
---@param options? { reflector?: string, reflector_port?: integer, token?: string } reflector: a name or an address
---@return portdoctor.NATEvidence evidence only: require("tcp-service:nat").decide(e) gives the verdict
function portforward.survey(port, options) end

---@class portdoctor.NATEvidence
---@field local_addresses string[]
---@field default_route? boolean
---@field default_gateway? string
---@field upnp? boolean
---@field gateway? portdoctor.Gateway
---@field natpmp? boolean
---@field natpmp_status? string
---@field natpmp_result? integer
---@field router_wan? string
---@field router_wan_refused? string
---@field mapping? table
---@field mapping_client? string
---@field mapping_port? integer
---@field mapping_error? string
---@field reflector? string
---@field reflector_address? string
---@field reflector_unresolved? string
---@field reflector_error? string
---@field public_address? string
---@field connect_back? portdoctor.ConnectStatus
---@field connect_back_errno? integer
---@field connect_back_error? string
---@field connect_back_to? string
---@field connect_back_rtt_ms? number
---@field hops string[]
---@field connect_back_trace? { ttl: integer, status: string, from?: string }[]
---@field arrivals? { syn_ports?: integer[], gateway_asked?: string[], error?: string }
---@field port? integer
---@field hop_probes { ttl: integer, address?: string, kind?: string }[]

---@class portdoctor.Gateway
---@field location string
---@field server? string
---@field manufacturer? string
---@field model? string
---@field friendly_name? string
---@field service_type? string
---@field control_url? string

---@class portdoctor.Mapping
---@field external_port integer
---@field proto string
---@field internal_client string
---@field internal_port integer
---@field enabled boolean
---@field description string
---@field lease integer

upnp = {}
---@param wait? number seconds
---@return portdoctor.Gateway[]
function upnp.discover(wait) end
---@param g portdoctor.Gateway
---@return string|nil address, string? why, integer? code
function upnp.external_address(g) end
---@param g portdoctor.Gateway
---@param port integer
---@return portdoctor.Mapping|nil, string? why, integer? code
function upnp.mapping(g, port) end
---@param g portdoctor.Gateway
---@return portdoctor.Mapping[]|nil, string? why, integer? code
function upnp.mappings(g) end
---Only inside a repair's apply function.
---@param g portdoctor.Gateway
---@param port integer
---Asks for a permanent forward first, then the longest lease the router takes; the mapping read
---back says what it granted (lease 0: no time limit).
---@return boolean|nil ok, string? what_or_why, portdoctor.Mapping|integer|nil mapping_or_code
function upnp.add_mapping(g, port) end
---Only inside a repair's apply function.
---@param g portdoctor.Gateway
---@param port integer
---@return boolean|nil ok, string? why, integer? code
function upnp.delete_mapping(g, port) end

natpmp = {}
---@return string|nil
function natpmp.gateway() end
---@param gateway? string
---@return { status: string, gateway: string, result?: integer, result_words?: string, external_address?: string }
function natpmp.external_address(gateway) end
---Only inside a repair's apply function.
---@param port integer
---@param lifetime? integer seconds
---@return { status: string, result?: integer, external_port?: integer, internal_port?: integer, lifetime?: integer }
function natpmp.map(port, lifetime) end

---@param g portdoctor.Gateway
---@return { enabled: boolean, inbound_pinhole_allowed: boolean }|nil status, string? why, integer? code
function upnp.firewall_status(g) end
---Only inside a repair's apply function (IGD:2, over IPv6: discover with { ipv6 = true }).
---@param g portdoctor.Gateway
---@param port integer
---@param opts? { address?: string, lease?: integer, proto?: string }
---@return boolean|nil ok, string? what_or_why, table|integer|nil pinhole_or_code
function upnp.add_pinhole(g, port, opts) end
---@param g portdoctor.Gateway
---@param id integer
---@return boolean|nil working, string? why, integer? code
function upnp.check_pinhole(g, id) end
---Only inside a repair's apply function.
---@param g portdoctor.Gateway
---@param id integer
---@return boolean|nil ok, string? why, integer? code
function upnp.delete_pinhole(g, id) end

pcp = {}
---@param family? "ipv4"|"ipv6"
---@return string|nil
function pcp.server(family) end
---Changes nothing on the router.
---@param server? string
---@param opts? { tries?: integer }
---@return table answer
function pcp.announce(server, opts) end
---Only inside a repair's apply function: a forward over IPv4, a pinhole over IPv6.
---@param port integer
---@param opts? { server?: string, ipv6?: boolean, lifetime?: integer, external_port?: integer, proto?: string, nonce?: string, tries?: integer }
---@return table answer
function pcp.map(port, opts) end

host = {}
---@param family? "ipv4"|"ipv6"
---@return { interface: string, ip: string, family: string, prefix_length: integer, scope: string, kind?: string, temporary: boolean, deprecated: boolean, unique_local: boolean }[]
function host.addresses(family) end
---@return string|nil
function host.stable_ipv6() end
---@return { ipv4?: boolean, gateway?: string, ipv6_gateway?: string }
function host.default_route() end

pairing = {}
---A paired run's (`run --with`) connects between the two computers, measured before the checks run;
---nil in a run on one computer. Each test: from, to, how ("connect"|"connect-back"), address, port,
---family ("ipv4"|"ipv6"), via ("lan"|"public"), outcome ("connected"|"refused"|"timeout"|"unreachable"), status, ms.
---trace (when no connect got an answer): the source's connect traced hop by hop (TTL 1…3) on the
---service port (hops) and on the pairing port as a control (control); each hop: ttl, status, from.
---@return { tests: { from: string, to: string, how: string, address: string, port: integer, family: string, via: string, outcome: string, status: string, ms?: number }[], notes: string[], trace?: { address: string, port: integer, hops: { ttl: integer, status: string, from?: string }[], control_port: integer, control: { ttl: integer, status: string, from?: string }[] } }|nil
function pairing.paths() end

process = {}
---@param pid integer
---@return table|nil info parents, cgroup, full program name, exe, arguments (see lua-api.md)
function process.info(pid) end
