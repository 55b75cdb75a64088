// The panel's tool line. The kernel runs the Python tools and reports its own status ("running
// get_weather…"), but a kernel busy with a cell has not even received the model's function call,
// and cannot say so. So the front end watches for that case itself: a function call whose record
// the kernel has not acknowledged a second after it arrived means the kernel is holding up the call.
import type { RealtimeEvent } from "./protocol";

/** How long a function call may wait for the kernel to receive it before the panel says so. */
export const KERNEL_WAIT_MS = 1000;

export const FUNCTION_CALL_DONE = "response.function_call_arguments.done";

export interface PendingCall {
  readonly name: string;
  readonly callId: string;
  /** When the call's arguments were complete (browser ms). */
  readonly since: number;
  /** The call's position in the stream of records piped to the kernel. */
  readonly record: number;
}

export class ToolWatch {
  private pending: PendingCall[] = [];

  /** A server event became record number `record` of the pipe. True if it is a function call. */
  observe(event: RealtimeEvent, record: number, now: number): boolean {
    if (event.type !== FUNCTION_CALL_DONE) return false;
    const name = typeof event.name === "string" && event.name !== "" ? event.name : "a tool";
    const callId = typeof event.call_id === "string" ? event.call_id : "";
    this.pending.push({ name, callId, since: now, record });
    return true;
  }

  /** The kernel has every record before `acknowledged`. True if that settled a pending call. */
  acknowledged(acknowledged: number): boolean {
    const before = this.pending.length;
    this.pending = this.pending.filter((call) => call.record >= acknowledged);
    return this.pending.length !== before;
  }

  /** A call ended: nothing is pending any more. */
  reset(): void {
    this.pending = [];
  }

  /** The call that has waited longest for the kernel, once it has waited KERNEL_WAIT_MS. */
  waiting(now: number): PendingCall | null {
    const oldest = this.pending[0];
    return oldest && now - oldest.since >= KERNEL_WAIT_MS ? oldest : null;
  }

  /** Milliseconds until the oldest pending call counts as waiting, or null if none is pending. */
  nextCheckIn(now: number): number | null {
    const oldest = this.pending[0];
    return oldest ? Math.max(0, oldest.since + KERNEL_WAIT_MS - now) : null;
  }
}

/** The panel's tool line: the wait for the kernel if there is one, else the kernel's own status. */
export function toolLine(kernelStatus: string, waiting: PendingCall | null): string {
  if (!waiting) return kernelStatus;
  return `${waiting.name}: waiting for the kernel (a running cell holds up tool calls)`;
}
