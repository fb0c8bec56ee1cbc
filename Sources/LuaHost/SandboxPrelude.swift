/// Trusted Lua run once per state. It captures the real libraries in locals, builds the read-only
/// API checks see, and returns the functions the host uses. Checks never see this chunk's locals,
/// the real global table, the registry, or any library that was left out (io, debug, package).
let sandboxPrelude = #"""
    local host = ...
    local MARKER, rethrow, tripped = host.marker, host.rethrow, host.tripped
    local pattern_cost, host_print = host.pattern_cost, host.print

    local type, error, select, tostring, tonumber = type, error, select, tostring, tonumber
    local next, pairs, ipairs, rawget, rawset, rawequal, rawlen = next, pairs, ipairs, rawget, rawset, rawequal, rawlen
    local setmetatable, getmetatable, pcall, xpcall, load = setmetatable, getmetatable, pcall, xpcall, load
    local collectgarbage, assert = collectgarbage, assert
    local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield, coroutine.status
    local co_close, co_running, co_isyieldable = coroutine.close, coroutine.running, coroutine.isyieldable
    local concat, format = table.concat, string.format

    -- Tables checks may read but never change (rawset and setmetatable refuse them too).
    local protected = setmetatable({}, { __mode = "k" })

    local function readonly(t, name)
      local proxy = setmetatable({}, {
        __index = t,
        __newindex = function(_, k)
          error(format("cannot set '%s.%s': '%s' is read-only", name, tostring(k), name), 2)
        end,
        -- an iterator closure, so pairs() never hands out the real table
        __pairs = function()
          local k
          return function()
            local v
            k, v = next(t, k)
            return k, v
          end
        end,
        __len = function() return #t end,
        __metatable = "read-only",
      })
      protected[proxy] = true
      return proxy
    end

    -- string: pattern functions refuse patterns whose backtracking could run away on the subject.
    local S = {}
    for k, v in next, string do S[k] = v end
    S.dump = nil
    local find, match, gmatch, gsub = string.find, string.match, string.gmatch, string.gsub
    local function guard(name, s, p, init)
      if type(s) == "string" and type(p) == "string" and #s > 64 then
        local why = pattern_cost(s, p, init)
        if why then error(format("string.%s: %s", name, why), 3) end
      end
    end
    -- tail calls keep Lua's own argument errors pointing at the check's line
    S.find = function(s, p, init, plain)
      if not plain then guard("find", s, p, init) end
      return find(s, p, init, plain)
    end
    S.match = function(s, p, init) guard("match", s, p, init); return match(s, p, init) end
    S.gmatch = function(s, p, init) guard("gmatch", s, p, init); return gmatch(s, p, init) end
    S.gsub = function(s, p, r, n) guard("gsub", s, p); return gsub(s, p, r, n) end
    local string_mt = getmetatable("")
    string_mt.__index = S
    string_mt.__metatable = "locked"

    -- coroutine: a host call made inside a check's own coroutine suspends the whole check; the
    -- wrapped resume passes that suspension up to the host and the host's answer back down.
    local function pass_up(co, ok, first, ...)
      if ok and rawequal(first, MARKER) and co_status(co) == "suspended" then
        return pass_up(co, co_resume(co, co_yield(MARKER)))
      end
      return ok, first, ...
    end
    local function unwrap(co, ok, ...)
      if ok then return ... end
      if co_status(co) == "dead" then co_close(co) end
      error((...), 0)
    end
    local C = {
      create = co_create, status = co_status, running = co_running, isyieldable = co_isyieldable,
      close = co_close, yield = co_yield,
      resume = function(co, ...) return pass_up(co, co_resume(co, ...)) end,
      wrap = function(f)
        local co = co_create(f)
        return function(...) return unwrap(co, pass_up(co, co_resume(co, ...))) end
      end,
    }

    local api = {
      assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, select = select,
      tonumber = tonumber, tostring = tostring, type = type, rawequal = rawequal, rawget = rawget,
      rawlen = rawlen, getmetatable = getmetatable, _VERSION = _VERSION,
      rawset = function(t, k, v)
        if protected[t] then error("cannot modify a read-only table", 2) end
        return rawset(t, k, v)
      end,
      setmetatable = function(t, mt)
        if protected[t] then error("cannot change the metatable of a read-only table", 2) end
        if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
          error("'__gc' metamethods are not available to checks", 2)
        end
        return setmetatable(t, mt)
      end,
      -- limit errors must not be swallowed: rethrow raises them again if one has tripped
      pcall = function(f, ...) return rethrow(pcall(f, ...)) end,
      xpcall = function(f, h, ...)
        -- a limit error may run the handler with hooks off: then the check's handler must not run
        local function handler(e)
          if tripped() then return e end
          return h(e)
        end
        return rethrow(xpcall(f, handler, ...))
      end,
      collectgarbage = function(opt, ...)
        opt = opt or "collect"
        if opt == "collect" or opt == "count" or opt == "step" or opt == "isrunning" then
          return collectgarbage(opt, ...)
        end
        error(format("collectgarbage('%s') is not available to checks", tostring(opt)), 2)
      end,
      print = function(...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        host_print(concat(parts, "\t"))
      end,
      string = readonly(S, "string"),
      table = readonly(table, "table"),
      math = readonly(math, "math"),
      utf8 = readonly(utf8, "utf8"),
      coroutine = readonly(C, "coroutine"),
      os = readonly({ time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }, "os"),
    }

    local function load_text(env)
      return function(chunk, chunkname, mode, ...)
        if mode ~= nil and mode ~= "t" then
          error("only text chunks can be loaded in a check (mode 't')", 2)
        end
        local e = env
        if select("#", ...) > 0 then e = ... end
        return load(chunk, chunkname, "t", e)
      end
    end

    local sandbox = {}

    -- Each check gets its own globals; reads fall back to the read-only API, and a name that is
    -- in neither is an error rather than a silent nil.
    function sandbox.new_env(extra)
      local env = {}
      local own = { _G = env, load = load_text(env) }
      if extra then for k, v in next, extra do own[k] = v end end
      return setmetatable(env, {
        __index = function(_, k)
          local v = own[k]
          if v ~= nil then return v end
          v = api[k]
          if v ~= nil then return v end
          error(format("unknown global '%s'", tostring(k)), 2)
        end,
        __metatable = "check environment",
      })
    end

    local function deep_readonly(t, name)
      local copy = {}
      for k, v in next, t do
        if type(v) == "table" then v = deep_readonly(v, name .. "." .. tostring(k)) end
        copy[k] = v
      end
      return readonly(copy, name)
    end

    function sandbox.add_module(name, t)
      api[name] = deep_readonly(t, name)
    end

    function sandbox.define(name, value)
      if type(value) == "table" then value = deep_readonly(value, name) end
      api[name] = value
    end

    return sandbox
    """#
