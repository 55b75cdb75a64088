// Requests to the kernel (anywidget's experimental.invoke, answered by @command methods in Python).
import type { Experimental } from "@anywidget/types";
import { KERNEL_TIMEOUT_MESSAGE, UserFacingError, describe, isRecord } from "./errors";
import type { CommandReply } from "./protocol";

export type Invoke = Experimental["invoke"];

/** anywidget gives up after 3 s by default; minting or relaying goes through the network, and a
 * kernel busy with a cell answers only when the cell ends, so allow much longer. */
export const COMMAND_TIMEOUT_MS = 30_000;

/**
 * Runs a kernel command and returns its successful reply. A reply `{ok: false, error}` becomes a
 * UserFacingError with the kernel's message (the kernel words it for the user); a timeout becomes
 * the "is a cell still running?" message. Aborting `signal` rejects with its reason unchanged.
 */
export async function runCommand<T extends object>(
  invoke: Invoke,
  name: string,
  msg: object,
  options: { signal?: AbortSignal; timeoutMs?: number; failureCode?: string } = {},
): Promise<T> {
  const { signal, timeoutMs = COMMAND_TIMEOUT_MS, failureCode = "kernel_error" } = options;
  signal?.throwIfAborted();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("kernel command timed out", "TimeoutError"));
  }, timeoutMs);
  const forwardAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", forwardAbort, { once: true });
  try {
    const [reply] = await invoke<CommandReply<T>>(name, msg, { signal: controller.signal });
    if (!isRecord(reply) || typeof reply.ok !== "boolean") {
      throw new UserFacingError("kernel_error", `The kernel sent an unexpected reply to ${name}.`);
    }
    if (!reply.ok) {
      const error = (reply as { error?: unknown }).error;
      throw new UserFacingError(failureCode, typeof error === "string" && error ? error : `${name} failed in the kernel.`, true);
    }
    return reply as T;
  } catch (error) {
    if (error instanceof UserFacingError) throw error;
    if (signal?.aborted) throw signal.reason;
    if (timedOut) throw new UserFacingError("kernel_timeout", KERNEL_TIMEOUT_MESSAGE);
    throw new UserFacingError("kernel_error", `The kernel could not run ${name}: ${describe(error)}`);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", forwardAbort);
  }
}
