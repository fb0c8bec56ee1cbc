// The C side of the Lua bridge. Lua raises errors and yields with longjmp; doing that from a Swift
// frame leaks Swift objects and corrupts exclusivity tracking. So Swift code only ever *returns* a code
// (PD_*), and the functions here do the raising and yielding.
#ifndef PORTDOCTOR_LUASHIM_H
#define PORTDOCTOR_LUASHIM_H

#include <lua.h>
#include <lauxlib.h>
#include <stddef.h>
#include <stdint.h>

/// What a Swift host function returns instead of raising or yielding itself.
/// Non-negative: that many results are on the stack.
enum {
    PD_RAISE_WITH_POSITION = -1, /* message on top; prefix "chunk:line:" of the caller, then raise */
    PD_RAISE = -2,               /* value on top; raise it as is */
    PD_SUSPEND = -3,             /* yield the calling coroutine to the host scheduler */
};

/// Which limit ended a check. Sticky until the host switches tasks.
enum {
    PD_LIMIT_NONE = 0,
    PD_LIMIT_INSTRUCTIONS = 1,
    PD_LIMIT_MEMORY = 2,
    PD_LIMIT_TIME = 3,
};

/// Per-state accounting, shared by all threads of a state (via the main thread's extra space).
/// The host copies the running task's budget in before resuming it and out afterwards.
typedef struct pd_budget {
    int64_t instructions_left;   /* decremented every PD_HOOK_INTERVAL instructions */
    int64_t deadline_ns;         /* CLOCK_MONOTONIC; 0 means none */
    size_t memory_in_use;        /* bytes currently allocated by the whole state */
    size_t memory_ceiling;       /* allocations beyond this fail while enforcing */
    int enforcing;               /* 1 only while check code runs (not inside host functions) */
    int tripped;                 /* PD_LIMIT_* */
    int memory_refusals;         /* consecutive refused allocations; reset by a success */
    /* for messages only */
    int64_t limit_instructions;
    size_t limit_memory;
    int64_t limit_wall_ms;
} pd_budget;

#define PD_HOOK_INTERVAL 1000

/// Implemented in Swift (LuaHost, `@_cdecl`). Calls the boxed Swift closure; returns a count or a
/// PD_* code and never raises.
int portdoctor_host_dispatch(lua_State *L, void *box);
/// Implemented in Swift: releases a retained Swift object held by a userdata.
void portdoctor_host_release(void *object);

/// A new state whose allocator and hooks account against `budget` (which must outlive the state).
lua_State *pd_newstate(pd_budget *budget);
pd_budget *pd_budget_of(lua_State *L);
int64_t pd_now_ns(void);

/// Arms the instruction/time hook on a thread. Threads created from it inherit the hook.
void pd_arm_hook(lua_State *L);

/// Pushes a Lua function that calls the Swift closure `retained_box` (ownership passes to Lua).
void pd_push_host_function(lua_State *L, void *retained_box);
/// Pushes a full userdata holding `retained_object`, with the metatable at `metatable_index`.
void pd_push_object(lua_State *L, void *retained_object, int metatable_index);
/// The object held by the userdata at `index`, or NULL.
void *pd_object_at(lua_State *L, int index);
/// The `__gc` used by every userdata that holds a Swift object.
int pd_release_userdata(lua_State *L);

/// The lightuserdata a host suspension yields, so wrapped coroutine.resume can pass it up.
void pd_push_suspend_marker(lua_State *L);
int pd_is_suspend_marker(lua_State *L, int index);

/// Lua-callable: returns its arguments unchanged, unless a limit has tripped, in which case it
/// raises the limit error again (so pcall/xpcall cannot swallow it).
int pd_rethrow_if_tripped(lua_State *L);
/// Lua-callable: true when a limit has tripped in the running check. Used by the sandbox's xpcall:
/// a limit error raised from the instruction hook runs the message handler with hooks disabled,
/// so the user's handler must not run at all then.
/* Raises the time limit if the deadline has passed: for C work between hooks (pattern calls). */
int pd_check_deadline(lua_State *L);
int pd_is_tripped(lua_State *L);
/// Lua-callable no-op, registered the same way as host functions, for the bridge benchmark.
int pd_noop(lua_State *L);

/// Fills `chunk`/`line` with the innermost Lua frame of the (dead or suspended) coroutine `co`
/// and pushes onto `L`: the error message (never running `__tostring`), then a traceback or nil.
void pd_describe_error(lua_State *L, lua_State *co, int error_index, int want_traceback,
                       char *chunk, size_t chunk_size, int *line);

/// Line of the innermost Lua frame calling the running C function, skipping the host's own trusted
/// chunks; fills `chunk`. -1 when there is none.
int pd_caller_position(lua_State *L, char *chunk, size_t chunk_size);

/// Protected call of the function below `nargs` arguments on top of `L`; 0 on success.
int pd_pcall(lua_State *L, int nargs, int nresults);
/// Closes a thread that will not be resumed again (pending to-be-closed variables run under limits).
int pd_close_thread(lua_State *co, lua_State *from);

/* Macros and constants that do not import into Swift. */
int pd_registry_index(void);
void pd_pop(lua_State *L, int n);
void pd_insert(lua_State *L, int index);
void pd_remove(lua_State *L, int index);

#endif
