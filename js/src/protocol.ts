// The vocabulary shared by the front end and the kernel.
// Mirrors src/rt_widget/messages.py one to one: change both together.

/** A realtime event as it travels on the `oai-events` data channel. */
export type RealtimeEvent = { type: string; event_id?: string; [key: string]: unknown };

export type Source = "server" | "client" | "widget";

/** One entry of the kernel's event log, as the front end sends it (the kernel adds seq and t_kernel_ms). */
export interface OutgoingRecord {
  source: Source;
  t_browser_ms: number;
  event: RealtimeEvent;
}

// -- comm message kinds ---------------------------------------------------------------------------
export const HELLO = "rt:hello";
export const EVENTS = "rt:events";
export const ACK = "rt:ack";
export const CONNECT = "rt:connect";
export const DISCONNECT = "rt:disconnect";
export const SEND = "rt:send";
/** The kernel's session config changed: a secret minted ahead carries the old one. */
export const SESSION_CHANGED = "rt:session_changed";

export type ToKernel =
  | { kind: typeof HELLO }
  | { kind: typeof EVENTS; pipe: string; batch: number; records: OutgoingRecord[] };

export type FromKernel =
  | { kind: typeof ACK; pipe?: string; batch: number }
  | { kind: typeof CONNECT }
  | { kind: typeof DISCONNECT }
  | { kind: typeof SEND; event: RealtimeEvent }
  | { kind: typeof SESSION_CHANGED };

// -- commands the front end invokes on the kernel (anywidget experimental.invoke) ------------------
export const COMMAND_MINT_SECRET = "mint_client_secret";
export const COMMAND_RELAY_OFFER = "relay_offer";
export const COMMAND_HANGUP = "hangup";

export type CommandReply<T> = ({ ok: true } & T) | { ok: false; error: string };
export type MintSecretReply = CommandReply<{ value: string; expires_at: number; call_url: string }>;
export type RelayOfferReply = CommandReply<{ sdp: string; call_id: string }>;
export type HangupReply = CommandReply<Record<string, never>>;

// -- widget records -------------------------------------------------------------------------------
export type WidgetState = "idle" | "connecting" | "connected" | "closed" | "failed";

/**
 * Phases of one call, in their usual order; ICE and peer-connection states are `ice_<state>` / `pc_<state>`.
 * A phase that learns the call id (`answer_received`) carries it as `call_id`: the kernel uses the
 * latest one to hang up when the widget is closed.
 */
export type Phase =
  | "start"
  | "secret_requested"
  | "secret_minted" // recorded by the kernel
  | "secret_received"
  | "mic_requested"
  | "mic_ready"
  | "offer_created"
  | "offer_relayed" // recorded by the kernel (relay signaling)
  | "answer_received"
  | "remote_description_set"
  | "channel_open"
  | "session_created"
  | "hung_up" // recorded by the kernel
  | "closed"
  | `ice_${string}`
  | `pc_${string}`;

export interface StatsSample {
  rtt_ms: number | null;
  jitter_ms: number | null;
  packets_lost: number | null;
  packets_received: number | null;
  packets_sent: number | null;
  bytes_sent: number | null;
  bytes_received: number | null;
  audio_level_in: number | null;
  audio_level_out: number | null;
  jitter_buffer_ms: number | null;
  concealed_samples: number | null;
  available_outgoing_bitrate: number | null;
}

export type WidgetRecord =
  | { type: "widget.phase"; phase: Phase; [key: string]: unknown }
  | { type: "widget.state"; state: WidgetState; reason: string }
  | ({ type: "widget.stats" } & StatsSample)
  | { type: "widget.error"; code: string; message: string; raw?: string }
  | { type: "widget.sdp"; role: "offer" | "answer"; sdp: string };
