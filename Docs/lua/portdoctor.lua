---@meta portdoctor
-- LuaLS stubs for portdoctor check packs. Add Docs/lua to "workspace.library" in .luarc.json.

---@alias portdoctor.Status "pass"|"warn"|"fail"|"skip"
---@alias portdoctor.Cause "peer-unresolvable"|"peer-unreachable"|"no-listener"|"listener-loopback-only"|"port-in-use"|"firewall-blocks-inbound"|"firewall-blocks-outbound"|"port-forward-missing"|"port-forward-wrong-target"|"double-nat"|"cgnat"|"upnp-unavailable"|"service-not-running"|"service-not-installed"|"filtered-upstream"|"manual-step"|string
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
