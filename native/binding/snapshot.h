// The N-API surface of snapshot and restore (core: native/core/snapshot).
// Converts arguments, runs the core call (on a libuv pool thread for the
// promise versions), and hands the outcome back as plain values: lib/
// builds every error from the facts (lib/errors.ts, snapshotError).
#pragma once

#include <napi.h>

namespace threadkv::binding {

// Adds snapshot, snapshotSync, restore and restoreSync to `exports`.
void RegisterSnapshot(Napi::Env env, Napi::Object exports);

}  // namespace threadkv::binding
