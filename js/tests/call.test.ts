import { afterEach, describe, expect, it, vi } from "vitest";
import { Call, type CallEnd, type CallHooks } from "../src/call";
import type { Invoke } from "../src/commands";
import { MIC_DENIED_MESSAGE } from "../src/errors";
import type { Signaling } from "../src/model";
import type { ClientSecret } from "../src/signaling";
import { MAX_AGE_MS, MicPermission, PeerPrewarm, preparePeer } from "../src/prewarm";
import { ANSWER_SDP, FakePeerConnection, FakeStream, settle } from "./fakes";

const SECRET = "ek_SECRET_never_logged";

interface Setup {
  signaling?: Signaling;
  mint?: unknown;
  relay?: unknown;
  response?: () => Response;
  getUserMedia?: () => Promise<FakeStream>;
  prefetched?: Promise<ClientSecret> | null;
  /** Use a peer connection prepared ahead (PeerPrewarm), with or without mic permission. */
  prepared?: boolean;
  micGranted?: boolean;
}

function setup(options: Setup = {}) {
  const pc = new FakePeerConnection();
  const events: string[] = [];
  const hookArgs: unknown[] = [];
  const ends: CallEnd[] = [];
  const streams: FakeStream[] = [];
  const commands: [string, unknown][] = [];
  const record =
    (name: string) =>
    (...args: unknown[]) => {
      hookArgs.push(args);
      events.push(name);
    };
  const hooks: CallHooks = {
    phase: (phase, detail) => {
      hookArgs.push([phase, detail]);
      events.push(`phase:${phase}`);
    },
    sdp: (role, sdp) => {
      hookArgs.push([role, sdp]);
      events.push(`sdp:${role}`);
    },
    serverEvent: (event) => {
      hookArgs.push(event);
      events.push(`server:${event.type}`);
    },
    malformed: record("malformed"),
    warning: (error) => events.push(`warning:${error.code}`),
    localStream: (stream) => events.push(stream ? "local:on" : "local:off"),
    remoteStream: (stream) => events.push(stream ? "remote:on" : "remote:off"),
    connected: record("connected"),
    stats: (sample) => {
      hookArgs.push(sample);
      events.push("stats");
    },
    ended: (end) => {
      ends.push(end);
      events.push(`ended:${end.state}`);
    },
  };
  const invoke = vi.fn(async (name: string, msg: unknown) => {
    commands.push([name, msg]);
    if (name === "mint_client_secret") {
      return [options.mint ?? { ok: true, value: SECRET, expires_at: 4_000_000_000, call_url: "http://127.0.0.1:8123/v1/realtime/calls" }, []];
    }
    if (name === "relay_offer") return [options.relay ?? { ok: true, sdp: ANSWER_SDP, call_id: "rtc_relay" }, []];
    return [{ ok: true }, []];
  }) as unknown as Invoke;
  const getUserMedia = vi.fn(
    options.getUserMedia ??
      (async () => {
        const stream = new FakeStream();
        streams.push(stream);
        return stream;
      }),
  );
  const fetchImpl = vi.fn(
    async () => options.response?.() ?? new Response(ANSWER_SDP, { status: 201, headers: { Location: "/v1/realtime/calls/rtc_1" } }),
  );
  const call = new Call({
    signaling: options.signaling ?? "client_secret",
    deviceId: null,
    muted: false,
    invoke,
    hooks,
    media: { getUserMedia } as unknown as MediaDevices,
    fetch: fetchImpl as unknown as typeof fetch,
    createPeerConnection: () => pc as unknown as RTCPeerConnection,
    prefetchedSecret: options.prefetched ?? null,
    prepared: options.prepared ? preparePeer(() => pc as unknown as RTCPeerConnection) : null,
    micGranted: options.micGranted ?? false,
  });
  return { call, pc, events, hookArgs, ends, streams, commands, fetchImpl, getUserMedia };
}

afterEach(() => vi.useRealTimers());

const PREFETCHED: ClientSecret = { value: "ek_MINTED_AHEAD", expiresAt: 4_000_000_000, callUrl: "http://127.0.0.1:8123/v1/realtime/calls" };
const authorization = (fetchImpl: { mock: { calls: unknown[][] } }, n: number) =>
  ((fetchImpl.mock.calls[n]![1] as RequestInit).headers as Record<string, string>).Authorization;

describe("Call with a secret minted ahead", () => {
  it("posts with it at once: no command to the kernel, phases marked prefetched", async () => {
    const t = setup({ prefetched: Promise.resolve(PREFETCHED) });
    await t.call.start();
    expect(t.commands).toEqual([]);
    expect(authorization(t.fetchImpl, 0)).toBe("Bearer ek_MINTED_AHEAD");
    expect(t.hookArgs).toContainEqual(["secret_requested", { prefetched: true }]);
    expect(t.hookArgs).toContainEqual(["secret_received", { prefetched: true }]);
    expect(t.events).toContain("phase:remote_description_set");
  });

  it("mints its own when the prefetch failed", async () => {
    const t = setup({ prefetched: Promise.reject(new Error("kernel busy")) });
    await t.call.start();
    expect(t.commands.map(([name]) => name)).toEqual(["mint_client_secret"]);
    expect(authorization(t.fetchImpl, 0)).toBe(`Bearer ${SECRET}`);
    expect(t.hookArgs).toContainEqual(["secret_received", {}]);
    expect(t.ends).toEqual([]);
  });

  it("mints a fresh one when the prefetched secret went stale while waiting for Connect", async () => {
    const t = setup({ prefetched: Promise.resolve({ ...PREFETCHED, expiresAt: Date.now() / 1000 + 1 }) });
    await t.call.start();
    expect(t.hookArgs).toContainEqual(["secret_requested", { reason: "expired" }]);
    expect(authorization(t.fetchImpl, 0)).toBe(`Bearer ${SECRET}`);
  });

  it("retries once with a fresh secret when the service refuses the one minted ahead", async () => {
    let posts = 0;
    const refusedOnce = () =>
      posts++ === 0
        ? new Response(JSON.stringify({ error: { message: "Invalid client secret", type: "invalid_request_error" } }), { status: 401 })
        : new Response(ANSWER_SDP, { status: 201, headers: { Location: "/v1/realtime/calls/rtc_2" } });
    const t = setup({ prefetched: Promise.resolve(PREFETCHED), response: refusedOnce });
    await t.call.start();
    expect(t.fetchImpl).toHaveBeenCalledTimes(2);
    expect([authorization(t.fetchImpl, 0), authorization(t.fetchImpl, 1)]).toEqual(["Bearer ek_MINTED_AHEAD", `Bearer ${SECRET}`]);
    expect(t.hookArgs).toContainEqual(["secret_requested", { reason: "rejected" }]);
    expect(t.call.id).toBe("rtc_2");
    expect(t.ends).toEqual([]);
  });

  it("does not retry a refusal of a secret it minted for this call", async () => {
    const t = setup({
      response: () => new Response(JSON.stringify({ error: { message: "Invalid client secret" } }), { status: 401 }),
    });
    await t.call.start();
    expect(t.fetchImpl).toHaveBeenCalledTimes(1);
    expect(t.ends[0]!.state).toBe("failed");
    expect(t.ends[0]!.error!.code).toBe("unauthorized");
  });
});

describe("Call with a client secret", () => {
  it("sets up in order, posts the local description with the secret, and opens", async () => {
    const t = setup();
    await t.call.start();
    // Minting and the microphone run in parallel: their phases may interleave.
    expect(t.events.slice(0, 2)).toEqual(["phase:secret_requested", "phase:mic_requested"]);
    expect(t.events.slice(2, 5).sort()).toEqual(["local:on", "phase:mic_ready", "phase:secret_received"]);
    expect(t.events.indexOf("phase:mic_ready")).toBeLessThan(t.events.indexOf("local:on"));
    expect(t.events.slice(5)).toEqual([
      "phase:offer_created",
      "sdp:offer",
      "phase:answer_received",
      "sdp:answer",
      "phase:remote_description_set",
    ]);
    const [, init] = t.fetchImpl.mock.calls[0]! as unknown as [string, RequestInit];
    expect(init.body).toContain("a=candidate:host"); // the local description, with the candidates it has
    expect((init.headers as Record<string, string>).Authorization).toBe(`Bearer ${SECRET}`);
    expect(t.call.id).toBe("rtc_1");
    expect(t.pc.remoteDescription).toEqual({ type: "answer", sdp: ANSWER_SDP });
    expect(t.pc.channels.map((c) => c.label)).toEqual(["oai-events"]);
    expect(t.getUserMedia.mock.calls[0]).toEqual([
      { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true }, video: false },
    ]);

    t.pc.channels[0]!.open();
    expect(t.events.slice(-2)).toEqual(["phase:channel_open", "connected"]);
    expect(t.call.isOpen).toBe(true);
  });

  it("posts the offer without waiting for ICE gathering to complete", async () => {
    const t = setup();
    t.pc.iceGatheringState = "gathering"; // and it never completes
    vi.useFakeTimers();
    const started = t.call.start();
    await vi.advanceTimersByTimeAsync(0); // promptly: no gathering timeout runs first
    await started;
    expect(t.fetchImpl).toHaveBeenCalledTimes(1);
    expect(t.events).toContain("phase:remote_description_set");
    expect(t.hookArgs).toContainEqual(["offer_created", { ice_gathering: "gathering" }]);
  });

  it("never hands the secret to a hook (records, traits, DOM all come from hooks)", async () => {
    const t = setup();
    await t.call.start();
    t.pc.channels[0]!.open();
    t.call.hangUp("done");
    expect(JSON.stringify(t.hookArgs)).not.toContain(SECRET);
  });

  it("reports data-channel events, the first session.created as a phase, and malformed text without ending", async () => {
    const t = setup();
    await t.call.start();
    const channel = t.pc.channels[0]!;
    channel.open();
    channel.receive('{"type":"session.created","event_id":"e1"}');
    channel.receive("{not json");
    channel.receive('{"type":"session.created","event_id":"e2"}');
    expect(t.events.slice(-5)).toEqual(["connected", "server:session.created", "phase:session_created", "malformed", "server:session.created"]);
    expect(t.ends).toEqual([]);
    t.call.send('{"type":"response.create"}');
    expect(channel.sent).toEqual(['{"type":"response.create"}']);
  });

  it("hangs up: closes, releases the mic, tells the kernel to hang up the call id", async () => {
    const t = setup();
    await t.call.start();
    t.pc.channels[0]!.open();
    t.call.hangUp("Disconnect clicked");
    expect(t.ends).toEqual([{ state: "closed", reason: "Disconnect clicked", error: null }]);
    expect(t.events.slice(-4)).toEqual(["local:off", "remote:off", "phase:closed", "ended:closed"]);
    expect(t.pc.closed).toBe(true);
    expect(t.streams[0]!.tracks[0]!.stopped).toBe(true);
    await settle();
    expect(t.commands.at(-1)).toEqual(["hangup", { call_id: "rtc_1" }]);
    // Ends once.
    t.call.hangUp("again");
    t.pc.channels[0]!.peerClose();
    expect(t.ends).toHaveLength(1);
    expect(() => t.call.send("{}")).toThrow(/no open call/);
  });

  it("shows the service's error from /calls and never sets it as the remote description", async () => {
    const t = setup({
      response: () => new Response(JSON.stringify({ error: { message: "Incorrect API key provided" } }), { status: 401 }),
    });
    await t.call.start();
    expect(t.pc.remoteDescription).toBeNull();
    expect(t.ends[0]).toMatchObject({ state: "failed", error: { code: "unauthorized" } });
    expect(t.ends[0]!.reason).toContain("Incorrect API key provided");
    expect(t.streams[0]!.tracks[0]!.stopped).toBe(true);
  });

  it("fails with the kernel's words when minting fails, releasing a mic that opens late", async () => {
    let grant: (stream: FakeStream) => void = () => {};
    const late = new FakeStream();
    const t = setup({
      mint: { ok: false, error: "OpenAI rejected the API key (401)." },
      getUserMedia: () => new Promise((resolve) => (grant = resolve)),
    });
    await t.call.start();
    expect(t.ends[0]).toMatchObject({ state: "failed", reason: "OpenAI rejected the API key (401).", error: { code: "secret_failed" } });
    grant(late);
    await settle();
    expect(late.tracks[0]!.stopped).toBe(true);
    expect(t.events).not.toContain("phase:mic_ready");
  });

  it("creates the offer once the mic is in (opening the mic alongside the peer connection slows it)", async () => {
    let grant: (stream: FakeStream) => void = () => {};
    const stream = new FakeStream();
    const t = setup({ getUserMedia: () => new Promise((resolve) => (grant = resolve)) });
    const started = t.call.start();
    await settle();
    expect(t.events).toContain("phase:secret_received"); // minted meanwhile
    expect(t.events).not.toContain("phase:offer_created");
    expect(t.pc.transceivers).toEqual([]);
    expect(t.fetchImpl).not.toHaveBeenCalled();
    grant(stream);
    await started;
    expect(t.events.indexOf("phase:mic_ready")).toBeLessThan(t.events.indexOf("phase:offer_created"));
    expect(t.pc.transceivers).toEqual([{ kind: "audio", direction: "sendrecv" }]);
    expect(t.pc.tracks).toEqual([stream.tracks[0]]);
    expect(t.fetchImpl).toHaveBeenCalledTimes(1);
  });

  it("fails at once when minting fails while the mic prompt is open, and releases the mic when it comes", async () => {
    let grant: (stream: FakeStream) => void = () => {};
    const late = new FakeStream();
    const t = setup({
      mint: { ok: false, error: "The service refused the API key." },
      getUserMedia: () => new Promise((resolve) => (grant = resolve)),
    });
    const started = t.call.start();
    await started;
    expect(t.ends).toEqual([expect.objectContaining({ state: "failed", reason: "The service refused the API key." })]);
    grant(late);
    await settle();
    expect(late.tracks[0]!.stopped).toBe(true);
    expect(t.pc.transceivers).toEqual([]);
    expect(t.fetchImpl).not.toHaveBeenCalled();
  });

  it("explains a denied microphone and does not post an offer", async () => {
    const t = setup({ getUserMedia: () => Promise.reject(new DOMException("denied", "NotAllowedError")) });
    await t.call.start();
    expect(t.ends[0]).toMatchObject({ state: "failed", reason: MIC_DENIED_MESSAGE, error: { code: "mic_denied" } });
    expect(t.fetchImpl).not.toHaveBeenCalled();
  });

  it("hung up while the mic prompt is open: ends at once, releases the mic when it comes", async () => {
    let grant: (stream: FakeStream) => void = () => {};
    const late = new FakeStream();
    const t = setup({ getUserMedia: () => new Promise((resolve) => (grant = resolve)) });
    const started = t.call.start();
    await settle();
    t.call.hangUp("Disconnect clicked");
    expect(t.ends).toEqual([{ state: "closed", reason: "Disconnect clicked", error: null }]);
    grant(late);
    await started;
    expect(late.tracks[0]!.stopped).toBe(true);
    expect(t.ends).toHaveLength(1);
    expect(t.fetchImpl).not.toHaveBeenCalled();
  });
});

describe("Call with a peer connection prepared ahead", () => {
  it("with mic permission granted, posts the offer before the microphone opens; the track joins later", async () => {
    let grant: (stream: FakeStream) => void = () => {};
    const stream = new FakeStream();
    const t = setup({ prepared: true, micGranted: true, getUserMedia: () => new Promise((resolve) => (grant = resolve)) });
    await t.call.start();
    expect(t.fetchImpl).toHaveBeenCalledTimes(1);
    expect(t.hookArgs).toContainEqual(["offer_created", { ice_gathering: "complete", prepared: true }]);
    expect(t.events).toContain("phase:remote_description_set");
    expect(t.events).not.toContain("phase:mic_ready");
    expect(t.pc.transceivers).toEqual([{ kind: "audio", direction: "sendrecv" }]);
    expect(t.pc.tracks).toEqual([]);
    t.pc.channels[0]!.open();
    expect(t.call.isOpen).toBe(true);
    await settle();
    // Not "connected" yet: the user could not be heard before the track joins.
    expect(t.events).not.toContain("connected");
    grant(stream);
    await settle();
    expect(t.events.indexOf("phase:channel_open")).toBeLessThan(t.events.indexOf("phase:mic_ready"));
    expect(t.events.indexOf("phase:mic_ready")).toBeLessThan(t.events.indexOf("connected"));
    expect(t.pc.tracks).toEqual([stream.tracks[0]]);
    expect(t.ends).toEqual([]);
  });

  it("a microphone failing after the offer went out ends the call and hangs it up at the service", async () => {
    let fail: (error: unknown) => void = () => {};
    const t = setup({ prepared: true, micGranted: true, getUserMedia: () => new Promise((_, reject) => (fail = reject)) });
    await t.call.start();
    t.pc.channels[0]!.open();
    fail(new DOMException("in use", "NotReadableError"));
    await settle();
    expect(t.events).not.toContain("connected");
    expect(t.ends).toHaveLength(1);
    expect(t.ends[0]).toMatchObject({ state: "failed", error: { code: "mic_unavailable" } });
    expect(t.pc.closed).toBe(true);
    expect(t.commands).toContainEqual(["hangup", { call_id: "rtc_1" }]);
  });

  it("without mic permission yet, waits for the microphone before posting, and a denial closes the prepared peer", async () => {
    const t = setup({ prepared: true, micGranted: false, getUserMedia: () => Promise.reject(new DOMException("denied", "NotAllowedError")) });
    await t.call.start();
    expect(t.ends[0]).toMatchObject({ state: "failed", error: { code: "mic_denied" } });
    expect(t.fetchImpl).not.toHaveBeenCalled();
    expect(t.pc.closed).toBe(true);
  });
});

describe("PeerPrewarm", () => {
  it("prepares one peer connection with the call's transceiver, channel and offer, and hands it over once", async () => {
    const made: FakePeerConnection[] = [];
    const prewarm = new PeerPrewarm(() => {
      const pc = new FakePeerConnection();
      made.push(pc);
      return pc as unknown as RTCPeerConnection;
    });
    prewarm.warm();
    prewarm.warm();
    expect(made).toHaveLength(1);
    const peer = prewarm.take()!;
    await peer.offered;
    expect(made[0]!.localDescription?.type).toBe("offer");
    expect(made[0]!.transceivers).toEqual([{ kind: "audio", direction: "sendrecv" }]);
    expect(made[0]!.channels.map((c) => c.label)).toEqual(["oai-events"]);
    expect(prewarm.take()).toBeNull();
  });

  it("discards one that waited too long, and drop() closes what it holds", () => {
    let now = 1_000;
    const made: FakePeerConnection[] = [];
    const prewarm = new PeerPrewarm(() => {
      const pc = new FakePeerConnection();
      made.push(pc);
      return pc as unknown as RTCPeerConnection;
    }, () => now);
    prewarm.warm();
    now += MAX_AGE_MS + 1;
    expect(prewarm.take()).toBeNull();
    expect(made[0]!.closed).toBe(true);
    prewarm.warm();
    prewarm.drop();
    expect(made[1]!.closed).toBe(true);
    expect(prewarm.take()).toBeNull();
  });

  it("does nothing where the browser has no WebRTC", () => {
    const prewarm = new PeerPrewarm(null);
    prewarm.warm();
    expect(prewarm.take()).toBeNull();
  });
});

describe("MicPermission", () => {
  it("follows the permission's state, and says unknown where the browser cannot tell", async () => {
    const status = Object.assign(new EventTarget(), { state: "prompt" as PermissionState });
    const permission = new MicPermission({ query: async () => status } as unknown as Permissions);
    await settle();
    expect(permission.granted).toBe(false);
    status.state = "granted";
    status.dispatchEvent(new Event("change"));
    expect(permission.granted).toBe(true);
    const unknown = new MicPermission({ query: () => Promise.reject(new TypeError("microphone")) } as unknown as Permissions);
    await settle();
    expect(unknown.state).toBe("unknown");
  });
});

describe("Call drops", () => {
  it("the peer closing the channel ends the call with a reason, without a hangup request", async () => {
    const t = setup();
    await t.call.start();
    t.pc.channels[0]!.open();
    t.pc.channels[0]!.peerClose();
    expect(t.ends[0]).toMatchObject({ state: "closed", error: { code: "channel_closed" } });
    await settle();
    expect(t.commands.map(([name]) => name)).not.toContain("hangup");
  });

  it("ICE failure fails the call and records the states as phases", async () => {
    const t = setup();
    await t.call.start();
    t.pc.setIce("checking");
    t.pc.setIce("failed");
    expect(t.events).toContain("phase:ice_checking");
    expect(t.events).toContain("phase:ice_failed");
    expect(t.ends[0]).toMatchObject({ state: "failed", error: { code: "ice_failed" } });
  });

  it("a channel that never opens times out", async () => {
    vi.useFakeTimers();
    const t = setup();
    await t.call.start();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(t.ends[0]).toMatchObject({ state: "failed", error: { code: "channel_timeout" } });
  });
});

describe("Call relay, mute, stats", () => {
  it("relays the offer through the kernel without minting or fetching", async () => {
    const t = setup({ signaling: "relay" });
    await t.call.start();
    expect(t.commands.map(([name]) => name)).toEqual(["relay_offer"]);
    expect((t.commands[0]![1] as { sdp: string }).sdp).toContain("a=candidate:host");
    expect(t.fetchImpl).not.toHaveBeenCalled();
    expect(t.call.id).toBe("rtc_relay");
  });

  it("applies mute to the mic track", async () => {
    const t = setup();
    await t.call.start();
    const track = t.streams[0]!.tracks[0]!;
    expect(track.enabled).toBe(true);
    t.call.setMuted(true);
    expect(track.enabled).toBe(false);
  });

  it("samples stats every second while connected", async () => {
    vi.useFakeTimers();
    const t = setup();
    await t.call.start();
    t.pc.channels[0]!.open();
    await vi.advanceTimersByTimeAsync(2_050);
    expect(t.events.filter((e) => e === "stats")).toHaveLength(2);
    t.call.hangUp("bye");
    await vi.advanceTimersByTimeAsync(3_000);
    expect(t.events.filter((e) => e === "stats")).toHaveLength(2);
  });
});

describe("Call microphone switching", () => {
  it("replaces the track live, keeps mute, and releases the old mic", async () => {
    const t = setup();
    await t.call.start();
    t.call.setMuted(true);
    await t.call.switchMicrophone("usb-mic");
    expect((t.getUserMedia.mock.calls[1] as unknown[])[0]).toMatchObject({ audio: { deviceId: { exact: "usb-mic" } } });
    expect(t.streams[0]!.tracks[0]!.stopped).toBe(true);
    expect(t.streams[1]!.tracks[0]!.enabled).toBe(false);
    expect(t.pc.tracks.at(-1)).toBe(t.streams[1]!.tracks[0]);
    t.call.hangUp("bye");
    expect(t.streams[1]!.tracks[0]!.stopped).toBe(true);
  });

  it("before the mic opens, only remembers the choice", async () => {
    const t = setup();
    await t.call.switchMicrophone("usb-mic");
    await t.call.start();
    expect((t.getUserMedia.mock.calls[0] as unknown[])[0]).toMatchObject({ audio: { deviceId: { exact: "usb-mic" } } });
  });
});
