// The panel's view of recent records: a bounded list of short rows, and the type filter.
// (The full log lives in the kernel; this is only what the panel shows.)
import { isRecord } from "./errors";
import type { OutgoingRecord, Source } from "./protocol";

export interface LogRow {
  /** Increasing across the model's life; lets a view append only rows it has not shown. */
  readonly seq: number;
  readonly t: number;
  readonly source: Source;
  readonly type: string;
  readonly summary: string;
}

const SUMMARY_CHARS = 140;

export class RecentEvents {
  private rows: LogRow[] = [];
  private nextSeq = 0;

  constructor(private readonly capacity = 1000) {}

  add(record: OutgoingRecord): LogRow {
    const row: LogRow = {
      seq: this.nextSeq++,
      t: record.t_browser_ms,
      source: record.source,
      type: typeof record.event.type === "string" ? record.event.type : "(no type)",
      summary: summarize(record.event),
    };
    this.rows.push(row);
    // Trim in chunks so a long burst costs amortized O(1) per row, not a shift per row.
    if (this.rows.length > this.capacity + (this.capacity >> 2)) this.rows = this.rows.slice(-this.capacity);
    return row;
  }

  /** The newest `limit` rows that pass `filter`, oldest first. */
  latest(filter: RowFilter, limit: number): LogRow[] {
    const out: LogRow[] = [];
    for (let i = this.rows.length - 1; i >= 0 && out.length < limit; i--) {
      const row = this.rows[i]!;
      if (filter(row)) out.push(row);
    }
    return out.reverse();
  }

  /** Rows newer than `seq` that pass `filter`, oldest first (at most `limit`, the newest ones). */
  after(seq: number, filter: RowFilter, limit: number): LogRow[] {
    const out: LogRow[] = [];
    for (let i = this.rows.length - 1; i >= 0 && out.length < limit; i--) {
      const row = this.rows[i]!;
      if (row.seq <= seq) break;
      if (filter(row)) out.push(row);
    }
    return out.reverse();
  }

  /** The seq of the newest row, -1 when empty. */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }
}

export type RowFilter = (row: LogRow) => boolean;

/**
 * A filter from the text box: space- or comma-separated terms matched as case-insensitive
 * substrings of the event type (or the source); a row passes if it matches any plain term and no
 * `-term`. Empty text passes everything.
 */
export function parseFilter(text: string): RowFilter {
  const terms = text.toLowerCase().split(/[\s,]+/).filter(Boolean);
  const include = terms.filter((t) => !t.startsWith("-"));
  const exclude = terms.filter((t) => t.startsWith("-") && t.length > 1).map((t) => t.slice(1));
  if (include.length === 0 && exclude.length === 0) return () => true;
  return (row) => {
    const type = row.type.toLowerCase();
    const hit = (term: string) => type.includes(term) || row.source === term;
    if (exclude.some(hit)) return false;
    return include.length === 0 || include.some(hit);
  };
}

/** A short, human line for an event: the bit worth seeing in a compact log. */
export function summarize(event: Record<string, unknown>): string {
  return clip(summaryOf(event));
}

function summaryOf(e: Record<string, unknown>): string {
  const type = typeof e.type === "string" ? e.type : "";
  if (typeof e.delta === "string") return JSON.stringify(e.delta);
  if (typeof e.transcript === "string") return JSON.stringify(e.transcript);
  if (type.endsWith(".done") && typeof e.text === "string") return JSON.stringify(e.text);
  switch (type) {
    case "error":
      return isRecord(e.error) ? String(e.error.message ?? e.error.type ?? "") : "";
    case "widget.phase":
      return [e.phase, e.call_id].filter(Boolean).join(" ");
    case "widget.state":
      return `${String(e.state)}${e.reason ? ` — ${String(e.reason)}` : ""}`;
    case "widget.error":
      return `${String(e.code)}: ${String(e.message)}`;
    case "widget.sdp":
      return `${String(e.role)} (${typeof e.sdp === "string" ? e.sdp.length : 0} chars)`;
    case "widget.stats":
      return statsLine(e);
    case "response.done":
    case "response.created":
      return isRecord(e.response) ? String(e.response.status ?? "") : "";
    case "conversation.item.create":
    case "conversation.item.added":
    case "conversation.item.created":
    case "conversation.item.done":
      return itemLine(e.item);
    case "session.update":
    case "session.created":
    case "session.updated":
      return isRecord(e.session) && typeof e.session.model === "string" ? e.session.model : "";
  }
  return "";
}

function itemLine(item: unknown): string {
  if (!isRecord(item)) return "";
  const head = [item.type, item.role].filter((x) => typeof x === "string").join(" ");
  const content = Array.isArray(item.content) ? item.content : [];
  const text = content
    .map((part) => (isRecord(part) ? (typeof part.text === "string" ? part.text : typeof part.transcript === "string" ? part.transcript : "") : ""))
    .join("");
  return text ? `${head} ${JSON.stringify(text)}` : head;
}

export function statsLine(s: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof s.rtt_ms === "number") parts.push(`rtt ${s.rtt_ms.toFixed(0)} ms`);
  if (typeof s.jitter_ms === "number") parts.push(`jitter ${s.jitter_ms.toFixed(1)} ms`);
  if (typeof s.packets_lost === "number") parts.push(`lost ${s.packets_lost}`);
  if (typeof s.packets_received === "number") parts.push(`rx ${s.packets_received} pkts`);
  if (typeof s.packets_sent === "number") parts.push(`tx ${s.packets_sent} pkts`);
  return parts.join(" · ");
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, " ");
  return line.length <= SUMMARY_CHARS ? line : `${line.slice(0, SUMMARY_CHARS - 1)}…`;
}
