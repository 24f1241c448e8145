/*
 * glibc's malloc_trim(0) for Node.js: returns the free pages inside malloc's arenas to the kernel.
 *
 * glibc gives each thread that contends for malloc an arena of its own and only shrinks an arena from its top.
 * V8's compiler and GC helper threads allocate and free tens of megabytes there (compiling PGlite's WebAssembly,
 * marking the heap); the memory is free, yet stays resident behind a few live chunks. malloc_trim also releases
 * free pages in the middle of an arena (MADV_DONTNEED). Node has no binding for it, hence this addon.
 *
 * trim() runs on the calling thread; trimAsync(callback) runs on libuv's thread pool, so that a server's event
 * loop does not wait for the arenas' locks, and calls back with whether memory was released.
 * Without glibc (musl, macOS) both report false and do nothing.
 */
#include <node_api.h>
#include <stdbool.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static bool trim_now(void) {
#if defined(__GLIBC__)
  return malloc_trim(0) == 1;
#else
  return false;
#endif
}

static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, trim_now(), &out);
  return out;
}

typedef struct {
  napi_async_work work;
  napi_ref callback;
  bool released;
} trim_job;

static void execute_trim(napi_env env, void *data) {
  (void)env;
  ((trim_job *)data)->released = trim_now();
}

static void complete_trim(napi_env env, napi_status status, void *data) {
  trim_job *job = data;
  napi_value callback, global, args[2];
  napi_get_reference_value(env, job->callback, &callback);
  napi_get_global(env, &global);
  napi_get_null(env, &args[0]);
  napi_get_boolean(env, status == napi_ok && job->released, &args[1]);
  napi_call_function(env, global, callback, 2, args, NULL);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value TrimAsync(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name;
  napi_valuetype type;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "trimAsync(callback): callback must be a function");
    return NULL;
  }
  trim_job *job = calloc(1, sizeof(trim_job));
  if (job == NULL) {
    napi_throw_error(env, NULL, "trimAsync: out of memory");
    return NULL;
  }
  napi_create_reference(env, argv[0], 1, &job->callback);
  napi_create_string_utf8(env, "malloc_trim", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute_trim, complete_trim, job, &job->work);
  napi_queue_async_work(env, job->work);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value trim, trim_async, supported;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &trim);
  napi_create_function(env, "trimAsync", NAPI_AUTO_LENGTH, TrimAsync, NULL, &trim_async);
#if defined(__GLIBC__)
  napi_get_boolean(env, true, &supported);
#else
  napi_get_boolean(env, false, &supported);
#endif
  napi_set_named_property(env, exports, "trim", trim);
  napi_set_named_property(env, exports, "trimAsync", trim_async);
  napi_set_named_property(env, exports, "supported", supported);
  return exports;
}
