/**
 * A promise already fulfilled (with `undefined`), shared by the runtime: returned where a caller
 * gets a promise but there is nothing to wait for (a commit settled in memory), and used as
 * `SETTLED.then(fn)` to run `fn` in the next microtask without the async resource Node wraps
 * around every `queueMicrotask` callback.
 */
export const SETTLED: Promise<void> = Promise.resolve();
