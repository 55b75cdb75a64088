// The event pipe to the kernel: every record, in order, nothing dropped, without clogging the comm.
//
// Measured (../../shared/FACTS.md): one comm message per event costs a kernel busy/idle round and
// clogs the page during bursts, while a fixed "collect for 20 ms" timer adds latency to events that
// arrive one at a time. So: a record that finds a free slot in the window leaves at once; records
// that arrive while the window is full queue up and leave together as the kernel acknowledges.
//
// Why a window of several batches rather than one: the acknowledgement's trip back is slow.
// jupyter_server's kernel websocket leaves Nagle's algorithm on, so the ack, written right after
// the kernel's small "busy" status message, waits for the browser's delayed TCP ACK: ~40-60 ms on
// loopback (benchmarks/RESULTS.md). With one batch in flight an event arriving meanwhile waited
// that long, and the kernel sat idle for it in every round of a burst. Several batches in flight
// hide the round trip. The window still bounds what waits in a busy kernel's queue: a kernel
// running a cell acknowledges nothing, so the browser-side queue grows, and nothing is lost.
import type { OutgoingRecord } from "./protocol";

export interface PipeOptions {
  /** Hands one batch to the comm. May throw (closed comm); the batch then stays queued. */
  send(batch: number, records: OutgoingRecord[]): void;
  /** A batch holds at most this many characters of JSON (one larger record travels alone). */
  maxBatchChars?: number;
  /** ... and at most this many records. */
  maxBatchRecords?: number;
  /** Batches sent but not yet acknowledged, at most. */
  maxInFlight?: number;
  /** Resend the oldest unacknowledged batch when its ack is this late (ms; doubling up to 8 s). */
  resendAfterMs?: number;
  /** This pipe's name in batches and acks (default: random): one pipe per page. */
  id?: string;
}

interface Queued {
  record: OutgoingRecord;
  /** Length of the record's JSON, measured once, when it is first considered for a batch. */
  chars: number;
}

export const DEFAULT_MAX_BATCH_CHARS = 512 * 1024;
export const DEFAULT_MAX_BATCH_RECORDS = 4000;
export const DEFAULT_MAX_IN_FLIGHT = 8;

export const DEFAULT_RESEND_AFTER_MS = 1000;
const MAX_RESEND_AFTER_MS = 8000;

interface InFlight {
  batch: number;
  records: OutgoingRecord[];
}

export class EventPipe {
  private readonly queue: Queued[] = [];
  /** Sent, unacknowledged batches, oldest first (the kernel acknowledges in order). */
  private readonly inFlight: InFlight[] = [];
  private nextBatch = 0;
  /** A flush is queued for the end of the current task. */
  private flushQueued = false;
  /** Records queue up without leaving (see hold()). */
  private held = false;
  private pushedRecords = 0;
  private acknowledgedRecords = 0;
  private readonly maxChars: number;
  private readonly maxRecords: number;
  private readonly maxInFlight: number;
  private readonly resendAfterMs: number;
  private resendDelay: number;
  private resendTimer: ReturnType<typeof setTimeout> | null = null;
  /** Names this page's batches: the kernel keeps each pipe's order, and acks name their pipe. */
  readonly id: string;

  constructor(private readonly options: PipeOptions) {
    this.maxChars = options.maxBatchChars ?? DEFAULT_MAX_BATCH_CHARS;
    this.maxRecords = Math.max(1, options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.resendAfterMs = options.resendAfterMs ?? DEFAULT_RESEND_AFTER_MS;
    this.resendDelay = this.resendAfterMs;
    this.id = options.id ?? randomId();
  }

  /** Records waiting for a free slot in the window. */
  get queued(): number {
    return this.queue.length;
  }

  /** The number of the oldest unacknowledged batch (the next ack expected), or null when idle. */
  get batchInFlight(): number | null {
    return this.inFlight[0]?.batch ?? null;
  }

  /** How many batches are sent and unacknowledged. */
  get batchesInFlight(): number {
    return this.inFlight.length;
  }

  /** Records pushed so far: the next record pushed is record number `pushed`. */
  get pushed(): number {
    return this.pushedRecords;
  }

  /** Records the kernel has acknowledged: every record numbered below this is in its log. */
  get acknowledged(): number {
    return this.acknowledgedRecords;
  }

  /**
   * Records pushed from now on wait until release(). A call setup pushes a dozen records within
   * about a tenth of a second, and each message sent then costs the page and the kernel work (a
   * busy/idle round, JupyterLab's status handling) on the cores the handshake needs; held, they
   * leave as one batch. Nothing is dropped, and their browser timestamps are those of the moment pushed.
   */
  hold(): void {
    this.held = true;
  }

  /** Lets held records go (as one batch when they fit). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.flush();
  }

  get isHeld(): boolean {
    return this.held;
  }

  push(record: OutgoingRecord): void {
    this.queue.push({ record, chars: -1 });
    this.pushedRecords += 1;
    if (this.held || this.flushQueued) return; // rides with the others of this task, at its end
    // The first record of a task leaves at once; the ones the same task pushes after it (a call
    // setup records several steps in one go) leave together when the task is done. Every comm
    // message costs a kernel busy/idle round, and JupyterLab answers each status change with DOM
    // work (it swaps the favicon): ~1-2 ms of the page's main thread per message.
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      try {
        this.flush();
      } catch {
        // The comm refused the batch: it stays queued; the next push or ack retries.
      }
    });
    this.flush();
  }

  /**
   * The kernel has logged `batch`. Returns false for an ack that is not the oldest batch in flight
   * (a duplicate, or one meant for an earlier page), which is ignored.
   */
  ack(batch: number): boolean {
    const oldest = this.inFlight[0];
    if (oldest === undefined || batch !== oldest.batch) return false;
    this.inFlight.shift();
    this.acknowledgedRecords += oldest.records.length;
    this.stopResendTimer();
    this.resendDelay = this.resendAfterMs;
    this.flush();
    this.armResend();
    return true;
  }

  /** Stops resending (the widget is gone). */
  close(): void {
    this.stopResendTimer();
  }

  /** Sends the next batch if the window has room; also retries after `send` threw. */
  flush(): void {
    if (this.held || this.inFlight.length >= this.maxInFlight || this.queue.length === 0) return;
    const take = this.batchLength();
    const records = this.queue.slice(0, take).map((q) => q.record);
    const batch = this.nextBatch;
    // The batch counts as in flight only once `send` returned: one that throws stays queued, and
    // the next push or flush() retries it. (An ack cannot arrive during send: the comm is async.)
    this.options.send(batch, records);
    this.nextBatch += 1;
    this.inFlight.push({ batch, records });
    this.queue.splice(0, take);
    this.armResend();
  }

  // A batch can wait in the kernel's queue behind a running cell while later ones are handled
  // (wait_for reads them from the socket); the kernel holds those until the missing one comes.
  // So a late ack makes the oldest batch go again; the kernel logs it once and acks duplicates.
  private armResend(): void {
    if (this.resendTimer !== null || this.inFlight.length === 0) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      const oldest = this.inFlight[0];
      if (!oldest) return;
      try {
        this.options.send(oldest.batch, oldest.records);
      } catch {
        // The comm is closing: nothing to resend to.
      }
      this.resendDelay = Math.min(this.resendDelay * 2, MAX_RESEND_AFTER_MS);
      this.armResend();
    }, this.resendDelay);
  }

  private stopResendTimer(): void {
    if (this.resendTimer !== null) clearTimeout(this.resendTimer);
    this.resendTimer = null;
  }

  /** How many queued records the next batch takes: at least one, within both caps. */
  private batchLength(): number {
    let chars = 0;
    let count = 0;
    const limit = Math.min(this.queue.length, this.maxRecords);
    while (count < limit) {
      const item = this.queue[count]!;
      if (item.chars < 0) item.chars = JSON.stringify(item.record).length;
      if (count > 0 && chars + item.chars > this.maxChars) break;
      chars += item.chars;
      count += 1;
    }
    return count;
  }
}

function randomId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return `pipe_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
