import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { COMMAND_TIMEOUT_MS, runCommand, type Invoke } from "../src/commands";
import { KERNEL_TIMEOUT_MESSAGE, UserFacingError } from "../src/errors";

/** An invoke that behaves like anywidget's: rejects with signal.reason on abort. */
function invokeReplying(reply: unknown | null): Invoke {
  return ((_name: string, _msg: unknown, options?: { signal?: AbortSignal }) =>
    new Promise((resolve, reject) => {
      options?.signal?.addEventListener("abort", () => reject(options.signal!.reason));
      if (reply !== null) resolve([reply, []]);
    })) as unknown as Invoke;
}

describe("runCommand", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("returns a successful reply", async () => {
    await expect(runCommand(invokeReplying({ ok: true, value: 1 }), "x", {})).resolves.toEqual({ ok: true, value: 1 });
  });

  it("turns {ok: false} into the kernel's message", async () => {
    const promise = runCommand(invokeReplying({ ok: false, error: "Invalid API key (401)." }), "mint", {}, { failureCode: "secret_failed" });
    await expect(promise).rejects.toMatchObject({ code: "secret_failed", message: "Invalid API key (401)." });
  });

  it("passes its own timeout (not anywidget's 3 s) and explains a silent kernel", async () => {
    const invoke = vi.fn(invokeReplying(null));
    const promise = runCommand(invoke as unknown as Invoke, "mint", {});
    const outcome = expect(promise).rejects.toMatchObject({ code: "kernel_timeout", message: KERNEL_TIMEOUT_MESSAGE });
    expect(invoke.mock.calls[0]![2]!.signal).toBeInstanceOf(AbortSignal);
    await vi.advanceTimersByTimeAsync(3_000);
    await vi.advanceTimersByTimeAsync(COMMAND_TIMEOUT_MS);
    await outcome;
  });

  it("rejects with the caller's abort reason when the call is hung up", async () => {
    const controller = new AbortController();
    const promise = runCommand(invokeReplying(null), "mint", {}, { signal: controller.signal });
    const reason = new DOMException("hung up", "AbortError");
    controller.abort(reason);
    await expect(promise).rejects.toBe(reason);
  });

  it("rejects malformed replies clearly", async () => {
    await expect(runCommand(invokeReplying("nope"), "mint", {})).rejects.toBeInstanceOf(UserFacingError);
  });
});
