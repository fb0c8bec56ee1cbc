#include "LuaShim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char pd_suspend_marker = 0;

pd_budget *pd_budget_of(lua_State *L) { return *(pd_budget **)lua_getextraspace(L); }

int64_t pd_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- memory ---------------------------------------------------------------------------------- */

static void *pd_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    pd_budget *b = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->memory_in_use -= old;
        return NULL;
    }
    if (nsize > old && b->enforcing && b->memory_in_use - old + nsize > b->memory_ceiling) {
        /* Lua collects garbage and tries once more before it raises "not enough memory". */
        b->memory_refusals++;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) {
        b->memory_in_use = b->memory_in_use - old + nsize;
        b->memory_refusals = 0;
    }
    return p;
}

static int pd_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "portdoctor: unprotected Lua error: %s\n", msg ? msg : "(not a string)");
    abort();
}

lua_State *pd_newstate(pd_budget *budget) {
    lua_State *L = lua_newstate(pd_alloc, budget);
    if (!L) return NULL;
    *(pd_budget **)lua_getextraspace(L) = budget; /* threads copy the main thread's extra space */
    lua_atpanic(L, pd_panic);
    return L;
}

/* ---- limits ---------------------------------------------------------------------------------- */

static void pd_hook(lua_State *L, lua_Debug *ar);

static int pd_raise_limit(lua_State *L, pd_budget *b) {
    int enforcing = b->enforcing;
    b->enforcing = 0; /* the message itself must be allocatable */
    /* From now on every instruction of this thread re-raises: pcall cannot swallow the limit. */
    lua_sethook(L, pd_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
    switch (b->tripped) {
    case PD_LIMIT_INSTRUCTIONS:
        lua_pushfstring(L, "instruction limit exceeded (%I instructions)", (lua_Integer)b->limit_instructions);
        break;
    case PD_LIMIT_MEMORY:
        lua_pushfstring(L, "memory limit exceeded (%I KiB)", (lua_Integer)(b->limit_memory / 1024));
        break;
    default:
        lua_pushfstring(L, "time limit exceeded (%I ms wall clock)", (lua_Integer)b->limit_wall_ms);
        break;
    }
    b->enforcing = enforcing;
    return lua_error(L);
}

static void pd_hook(lua_State *L, lua_Debug *ar) {
    pd_budget *b = pd_budget_of(L);
    if (!b->enforcing) return;
    if (!b->tripped) {
        if (ar->event == LUA_HOOKCOUNT) {
            b->instructions_left -= PD_HOOK_INTERVAL;
            if (b->instructions_left < 0) b->tripped = PD_LIMIT_INSTRUCTIONS;
            else if (b->deadline_ns && pd_now_ns() > b->deadline_ns) b->tripped = PD_LIMIT_TIME;
        }
        if (b->memory_refusals) b->tripped = PD_LIMIT_MEMORY;
    }
    if (b->tripped) pd_raise_limit(L, b);
}

void pd_arm_hook(lua_State *L) { lua_sethook(L, pd_hook, LUA_MASKCOUNT, PD_HOOK_INTERVAL); }

int pd_rethrow_if_tripped(lua_State *L) {
    pd_budget *b = pd_budget_of(L);
    if (b->enforcing && !b->tripped && b->memory_refusals) b->tripped = PD_LIMIT_MEMORY;
    if (b->enforcing && b->tripped) return pd_raise_limit(L, b);
    return lua_gettop(L);
}

int pd_check_deadline(lua_State *L) {
    pd_budget *b = pd_budget_of(L);
    if (!b->enforcing) return 0;
    if (!b->tripped && b->deadline_ns && pd_now_ns() > b->deadline_ns) b->tripped = PD_LIMIT_TIME;
    if (b->tripped) return pd_raise_limit(L, b);
    return 0;
}

int pd_is_tripped(lua_State *L) {
    pd_budget *b = pd_budget_of(L);
    lua_pushboolean(L, b->enforcing && (b->tripped || b->memory_refusals));
    return 1;
}

/* ---- host functions and objects -------------------------------------------------------------- */

static int pd_is_host_chunk(const char *source) { return strncmp(source, "=portdoctor:", 12) == 0; }

/* Like luaL_where(L, 1), but the host's own trusted Lua wrappers are not where a check went wrong. */
static void pd_where(lua_State *L) {
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (pd_is_host_chunk(ar.source)) continue;
        if (ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
        break;
    }
    lua_pushfstring(L, "");
}

int pd_caller_position(lua_State *L, char *chunk, size_t chunk_size) {
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (pd_is_host_chunk(ar.source)) continue;
        if (ar.currentline <= 0) return -1;
        snprintf(chunk, chunk_size, "%s", ar.short_src);
        return ar.currentline;
    }
    return -1;
}

static int pd_trampoline(lua_State *L) {
    void *box = *(void **)lua_touserdata(L, lua_upvalueindex(1));
    pd_budget *b = pd_budget_of(L);
    int enforcing = b->enforcing;
    b->enforcing = 0; /* host code may allocate freely; the check is charged when it resumes */
    int n = portdoctor_host_dispatch(L, box);
    b->enforcing = enforcing;
    if (n >= 0) return n;
    switch (n) {
    case PD_RAISE_WITH_POSITION:
        pd_where(L);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    case PD_SUSPEND:
        lua_pushlightuserdata(L, (void *)&pd_suspend_marker);
        return lua_yield(L, 1);
    default:
        return lua_error(L);
    }
}

int pd_release_userdata(lua_State *L) {
    void **slot = lua_touserdata(L, 1);
    if (slot && *slot) {
        void *object = *slot;
        *slot = NULL;
        portdoctor_host_release(object);
    }
    return 0;
}

static const char pd_box_metatable_key = 0;

void pd_push_host_function(lua_State *L, void *retained_box) {
    void **slot = lua_newuserdatauv(L, sizeof(void *), 0);
    *slot = retained_box;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pd_box_metatable_key) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushcfunction(L, pd_release_userdata);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &pd_box_metatable_key);
    }
    lua_setmetatable(L, -2);
    lua_pushcclosure(L, pd_trampoline, 1);
}

void pd_push_object(lua_State *L, void *retained_object, int metatable_index) {
    metatable_index = lua_absindex(L, metatable_index);
    void **slot = lua_newuserdatauv(L, sizeof(void *), 0);
    *slot = retained_object;
    lua_pushvalue(L, metatable_index);
    lua_setmetatable(L, -2);
}

void *pd_object_at(lua_State *L, int index) {
    void **slot = lua_touserdata(L, index);
    return (slot && lua_type(L, index) == LUA_TUSERDATA) ? *slot : NULL;
}

void pd_push_suspend_marker(lua_State *L) { lua_pushlightuserdata(L, (void *)&pd_suspend_marker); }

int pd_is_suspend_marker(lua_State *L, int index) {
    return lua_type(L, index) == LUA_TLIGHTUSERDATA && lua_touserdata(L, index) == &pd_suspend_marker;
}

int pd_noop(lua_State *L) {
    (void)L;
    return 0;
}

/* ---- errors and threads ---------------------------------------------------------------------- */

void pd_describe_error(lua_State *L, lua_State *co, int error_index, int want_traceback,
                       char *chunk, size_t chunk_size, int *line) {
    lua_Debug ar;
    chunk[0] = 0;
    *line = -1;
    for (int level = 0; lua_getstack(co, level, &ar); level++) {
        lua_getinfo(co, "Sl", &ar);
        /* the host's own trusted Lua (chunks named "=portdoctor:…") is not where the check went wrong */
        if (ar.currentline > 0 && !pd_is_host_chunk(ar.source)) {
            snprintf(chunk, chunk_size, "%s", ar.short_src);
            *line = ar.currentline;
            break;
        }
    }
    int t = lua_type(co, error_index);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t len;
        const char *s = lua_tolstring(co, error_index, &len); /* converts a number in place */
        lua_pushlstring(L, s, len);
    } else {
        /* Never run __tostring here: it is check code and may itself fail or loop. */
        lua_pushfstring(L, "(error object is a %s value)", lua_typename(co, t));
    }
    if (want_traceback) luaL_traceback(L, co, NULL, 0);
    else lua_pushnil(L);
}

int pd_pcall(lua_State *L, int nargs, int nresults) { return lua_pcall(L, nargs, nresults, 0); }

int pd_close_thread(lua_State *co, lua_State *from) {
    /* Pending to-be-closed variables are check code: any limit already tripped stops them at once. */
    lua_sethook(co, pd_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
#if LUA_VERSION_RELEASE_NUM >= 50406
    return lua_closethread(co, from);
#else
    (void)from;
    return lua_resetthread(co);
#endif
}

int pd_registry_index(void) { return LUA_REGISTRYINDEX; }
void pd_pop(lua_State *L, int n) { lua_pop(L, n); }
void pd_insert(lua_State *L, int index) { lua_insert(L, index); }
void pd_remove(lua_State *L, int index) { lua_remove(L, index); }
