/// Trusted Lua run once per state. It captures the real libraries in locals, builds the read-only
/// API checks see, and returns the functions the host uses. Checks never see this chunk's locals,
/// the real global table, the registry, or any library that was left out (io, debug, package).
let sandboxPrelude = #"""
    local host = ...
    local MARKER, rethrow, tripped = host.marker, host.rethrow, host.tripped
    local pattern_cost, pattern_shape, pattern_budget = host.pattern_cost, host.pattern_shape, host.pattern_budget
    local host_print, check_deadline = host.print, host.check_deadline
    local host_now, host_clock, os_time, os_date = host.now, host.clock, os.time, os.date

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

    -- Work done inside one C function is invisible to the instruction hook, so every library
    -- function whose C loop is not bounded by the memory limit gets a wrapper below.
    local math_type, tointeger = math.type, math.tointeger
    local function integer(x) return tointeger(tonumber(x)) end
    -- More elements than this and a table function does its loop in Lua, where the hook counts it.
    local LOOP_IN_C = 1 << 16

    -- string: Lua's matcher backtracks in C, so every pattern call is costed before it runs,
    -- whatever the subject's length (see PatternCost), and the clock is read, so that a loop of
    -- costly calls still ends at the check's deadline.
    local S = {}
    for k, v in next, string do S[k] = v end
    S.dump = nil
    local find, match, gmatch, gsub, rep = string.find, string.match, string.gmatch, string.gsub, string.rep
    -- The part of the cost that depends on the pattern alone, per use and pattern: with it, the
    -- cheap bound needs no host call (PatternCost.Shape.crudeBound; false: malformed).
    local shapes, shaped = { find = {}, plain = {}, match = {}, gmatch = {}, gsub = {} }, 0
    local function shape_of(use, p)
      local known = shapes[use][p]
      if known ~= nil then return known end
      if shaped >= 512 then
        for _, t in next, shapes do for k in next, t do t[k] = nil end end
        shaped = 0
      end
      local plain, branching, optional, items, per_step = pattern_shape(p, use)
      known = plain ~= nil and { plain, branching, optional, items, per_step } or false
      shapes[use][p] = known
      shaped = shaped + 1
      return known
    end
    local function guard(name, use, s, p, init)
      local ts, tp = type(s), type(p)
      if (ts == "string" or ts == "number") and (tp == "string" or tp == "number") then
        check_deadline()
        s, p = tostring(s), tostring(p)
        local shape = shape_of(use, p)
        if not shape then return end  -- Lua reports the malformed pattern itself
        local n = #s
        local bound
        if shape[1] then
          bound = n + n * #p / 16
        else
          bound = (n + 1.0) ^ (shape[2] + 1) * 2.0 ^ shape[3] * (shape[4] + 1) * shape[5]
        end
        if bound <= pattern_budget then return end
        if math_type(init) ~= "integer" then init = nil end
        local why = pattern_cost(s, p, init, use)
        if why then error(format("string.%s: %s", name, why), 3) end
      end
    end
    -- tail calls keep Lua's own argument errors pointing at the check's line
    S.find = function(s, p, init, plain)
      guard("find", plain and "plain" or "find", s, p, init)
      return find(s, p, init, plain)
    end
    S.match = function(s, p, init) guard("match", "match", s, p, init); return match(s, p, init) end
    S.gmatch = function(s, p, init) guard("gmatch", "gmatch", s, p, init); return gmatch(s, p, init) end
    S.gsub = function(s, p, r, n) guard("gsub", "gsub", s, p); return gsub(s, p, r, n) end
    -- n empty copies cost C n steps and no memory
    S.rep = function(s, n, sep)
      if s == "" and (sep == nil or sep == "") and integer(n) then return "" end
      return rep(s, n, sep)
    end
    local string_mt = getmetatable("")
    string_mt.__index = S
    string_mt.__metatable = "locked"

    -- table: a length (from __len, or a border of a sparse table) can be huge while the table is
    -- small, and __index/__newindex can be C functions that neither allocate nor run Lua.
    local T = {}
    for k, v in next, table do T[k] = v end
    local t_insert, t_remove, t_move, t_sort = table.insert, table.remove, table.move, table.sort
    local function span(first, last)
      first, last = integer(first), integer(last)
      return first and last and (last + 0.0) - first or 0
    end
    T.concat = function(t, sep, i, j)
      -- without a metatable every element must be in the table, so memory bounds the loop
      if type(t) ~= "table" or getmetatable(t) == nil then return concat(t, sep, i, j) end
      i, j = i or 1, j or #t
      if span(i, j) < LOOP_IN_C then return concat(t, sep, i, j) end
      local parts, n = {}, 0
      for k = integer(i), integer(j) do
        local v = t[k]
        local tv = type(v)
        if tv ~= "string" and tv ~= "number" then
          error(format("invalid value (at index %d) in table for 'concat'", k), 2)
        end
        n = n + 1
        parts[n] = v
      end
      return concat(parts, sep)
    end
    -- the length is read once: a __len that answers differently the second time changes nothing
    local function length(t)
      local n = #t
      if math_type(n) ~= "integer" then error("object length is not an integer", 3) end
      return n
    end
    T.insert = function(t, ...)
      local count = select("#", ...)
      if type(t) ~= "table" or count ~= 2 then return t_insert(t, ...) end
      local pos, v = ...
      local e = length(t) + 1
      local p = integer(pos)
      if p == nil then return t_insert(t, pos, v) end  -- Lua's own argument error
      if p < 1 or p > e then error("bad argument #2 to 'insert' (position out of bounds)", 2) end
      if getmetatable(t) == nil and e - p < LOOP_IN_C then return t_insert(t, p, v) end
      for k = e, p + 1, -1 do t[k] = t[k - 1] end
      t[p] = v
    end
    T.remove = function(t, pos)
      if type(t) ~= "table" then return t_remove(t, pos) end
      local size = length(t)
      local p = size
      if pos ~= nil then
        p = integer(pos)
        if p == nil then return t_remove(t, pos) end  -- Lua's own argument error
        if p ~= size and (p < 1 or p > size + 1) then
          error("bad argument #2 to 'remove' (position out of bounds)", 2)
        end
      end
      if getmetatable(t) == nil and size - p < LOOP_IN_C then return t_remove(t, p) end
      local v = t[p]
      for k = p, size - 1 do t[k] = t[k + 1] end
      t[p < size and size or p] = nil
      return v
    end
    T.move = function(a1, f, e, t, a2)
      if span(f, e) < LOOP_IN_C then return t_move(a1, f, e, t, a2) end
      a2 = a2 == nil and a1 or a2
      f, e, t = integer(f), integer(e), integer(t)
      if t == nil or type(a1) ~= "table" or type(a2) ~= "table" then return t_move(a1, f, e, t, a2) end
      local n = e - f
      if t > e or t <= f or not rawequal(a1, a2) then
        for k = 0, n do a2[t + k] = a1[f + k] end
      else
        for k = n, 0, -1 do a2[t + k] = a1[f + k] end
      end
      return a2
    end
    -- A comparator written in Lua makes every comparison count for the hook; a failed comparison
    -- is reported at the check's line rather than this chunk's.
    local function less(a, b) return a < b end
    local function sorted(ok, ...)
      if ok then return end
      local e = ...
      if type(e) == "string" then
        local stripped = gsub(e, "^portdoctor:sandbox:%d+: ", "")
        if stripped ~= e then error(stripped, 3) end
      end
      error(e, 0)
    end
    T.sort = function(t, comp)
      if type(t) ~= "table" or (comp ~= nil and type(comp) ~= "function") then return t_sort(t, comp) end
      local by = less
      if comp ~= nil then by = function(a, b) return comp(a, b) end end
      sorted(rethrow(pcall(t_sort, t, by)))  -- not a tail call: 'sorted' raises at level 3
    end

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
      table = readonly(T, "table"),
      math = readonly(math, "math"),
      utf8 = readonly(utf8, "utf8"),
      coroutine = readonly(C, "coroutine"),
      -- the current time comes from the host (a primitive that a replay answers); a given time is plain arithmetic
      os = readonly({
        time = function(t) if t == nil then return host_now() end return os_time(t) end,
        clock = function() return host_clock() end,
        date = function(f, t) if t == nil then t = host_now() end return os_date(f, t) end,
        difftime = os.difftime,
      }, "os"),
    }

    -- Lua parses in C, where no hook fires, and checking for a repeated label is quadratic in the
    -- labels of a function: what a check may compile at once is capped.
    local MAX_CHUNK = 256 << 10
    local function load_text(env)
      return function(chunk, chunkname, mode, ...)
        if mode ~= nil and mode ~= "t" then
          error("only text chunks can be loaded in a check (mode 't')", 2)
        end
        local too_big = format("chunk too large to load in a check (limit %d bytes)", MAX_CHUNK)
        if type(chunk) == "string" and #chunk > MAX_CHUNK then return nil, too_big end
        if type(chunk) == "function" then
          local reader, total = chunk, 0
          chunk = function()
            local piece = reader()
            if type(piece) == "string" then
              total = total + #piece
              if total > MAX_CHUNK then error(too_big, 0) end
            end
            return piece
          end
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

    -- What a check can name: each global of the API with its type, and for a table its fields
    -- with theirs ("connect=function"), for `pack lint` and the test of the LuaLS stubs.
    function sandbox.describe()
      local out = {}
      for k, v in next, api do
        local fields = {}
        if type(v) == "table" then
          for fk, fv in pairs(v) do fields[#fields + 1] = tostring(fk) .. "=" .. type(fv) end
        end
        out[#out + 1] = { name = k, kind = type(v), fields = fields }
      end
      out[#out + 1] = { name = "_G", kind = "table", fields = {} }
      out[#out + 1] = { name = "load", kind = "function", fields = {} }
      return out
    end

    function sandbox.define(name, value)
      if type(value) == "table" then value = deep_readonly(value, name) end
      api[name] = value
    end

    return sandbox
    """#
