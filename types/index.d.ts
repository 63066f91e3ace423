/**
 * scantrack: a browser tracking snippet in Rust/WebAssembly. Batched delivery that backs off on
 * HTTP 429 and server errors, persists every accepted event until the collector acknowledges
 * it, and hashes email addresses so that no raw address ever leaves the page.
 *
 * ```ts
 * import { init } from "scantrack";
 * const tracker = await init({ siteId: "site_demo", endpoint: "https://collect.example.com" });
 * tracker.track("signup", { plan: "pro" });
 * tracker.identify({ email: "ada@example.com" });
 * await tracker.flush();
 * ```
 *
 * No function here throws or rejects: bad input becomes an `error` report (see {@link ScantrackTracker.on}).
 */

/** A JSON value as event properties may hold it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Event properties: a JSON object whose compact serialisation is at most 10,240 bytes of UTF-8, nested at most 32 levels deep. */
export type Properties = { [key: string]: JsonValue | undefined };

/** Consent state. While `"pending"` events wait in memory only; `"denied"` drops them and clears scantrack's storage. */
export type ConsentState = "pending" | "granted" | "denied";

/** A conversion attached to an event as `conversion_value`. */
export interface Conversion {
  /** A finite number, e.g. `19.98`. */
  amount: number;
  /** An ISO 4217 alpha-3 code in upper case, e.g. `"EUR"`. */
  currency: string;
}

/** The visitor's identity: a raw email (hashed in the browser, never sent or stored) or its SHA-256. */
export type Identity = { email: string } | { email_hash: string };

/** Options of {@link init}. The same options exist as `data-*` attributes on the script tag (kebab case). */
export interface Options {
  /** Required. The site's id at the collector: 1 to 64 of `A-Z a-z 0-9 _ -`. */
  siteId: string;
  /** Required. The collector's base URL (absolute http or https), e.g. `"https://collect.example.com"`; events go to `{endpoint}/collect/batch`. */
  endpoint: string;
  /** Track a `page_view` on load and on SPA navigations (History API, `popstate`). Default `true`. */
  autoPageview?: boolean;
  /** Initial consent. Default `"granted"` (but see {@link Options.honorGlobalPrivacyControl}). */
  consent?: ConsentState;
  /** Log to the console: debug messages, errors and dropped events. Default `false`. */
  debug?: boolean;
  /** Send a batch once the oldest queued event has waited this long, in milliseconds. Default `2000`. */
  flushIntervalMs?: number;
  /** Send a batch once this many events are queued. Default `50`. */
  maxBatchEvents?: number;
  /** Send a batch once its body would reach this many bytes (stays under the 64 KiB keepalive budget). Default `60000`. */
  maxBatchBytes?: number;
  /** At most this many requests per minute from this page (the collector allows 100 per IP). Default `30`. */
  maxRequestsPerMinute?: number;
  /** Abort a request after this many milliseconds and retry it with backoff. Default `10000`. */
  requestTimeoutMs?: number;
  /** Cap on the persisted queue in bytes; when full the oldest events are evicted and reported. Default `1048576` (1 MiB). */
  maxQueueBytes?: number;
  /** An accepted event reaches localStorage within this many milliseconds (at once when the page is hidden). Default `1000`. */
  persistDelayMs?: number;
  /** A new `scan_session_id` starts after this many milliseconds without activity. Default `1800000` (30 min). */
  sessionTimeoutMs?: number;
  /** What to do with an email address found in properties, URL, referrer or event name: replace it with `[email redacted]`, with its SHA-256, or refuse the event. Default `"redact"`. */
  piiPolicy?: "redact" | "hash" | "reject";
  /** Email normalisation before hashing: trim and lower-case (`"standard"`), and also remove dots in gmail.com/googlemail.com local parts (`"google"`). Default `"standard"`. */
  emailNormalization?: "standard" | "google";
  /** Treat `navigator.globalPrivacyControl === true` as consent denied. Default `true`. */
  honorGlobalPrivacyControl?: boolean;
  /**
   * npm only: where the wasm module comes from. Default: `new URL("../pkg/scantrack_bg.wasm", import.meta.url)`,
   * which Vite, Rollup, webpack 5 and Parcel handle without a plugin. With esbuild use
   * `import wasm from "scantrack/scantrack_bg.wasm"` and `--loader:.wasm=file`, then pass `wasm`.
   */
  wasm?: string | URL | Request | Response | Promise<Response> | BufferSource | WebAssembly.Module;
  /** npm only: listeners registered before the tracker starts, so they also see reports from its start (e.g. storage unavailable, or why `init` gave an inert tracker). */
  on?: { error?: (report: ErrorReport) => void; delivered?: (report: DeliveredReport) => void; dropped?: (report: DroppedReport) => void };
}

/** Events the collector acknowledged (HTTP 2xx). */
export interface DeliveredReport {
  type: "delivered";
  event_ids: string[];
}

/** Why an event was dropped. */
export type DropReason = "evicted" | "invalid" | "too_large" | "refused" | "rejected" | "consent_denied";

/** An accepted event that will never be delivered. */
export interface DroppedReport {
  type: "dropped";
  event_id: string;
  event_name: string;
  reason: DropReason;
  /** What happened, for a person. */
  message: string;
}

/**
 * A call that was refused or a problem the tracker hit. `kind` is e.g. `"invalid_call"` (bad
 * arguments), `"storage"` (localStorage unavailable; memory is used), `"stopped"` (the collector
 * answered 400/401/403), `"config"` (unusable options: the tracker is inert), `"load"` (the wasm
 * module could not load: the tracker is inert), `"internal"`.
 */
export interface ErrorReport {
  type: "error";
  kind: string;
  /** What went wrong and what to change, for a person. */
  message: string;
}

/** Report type → report shape, for {@link ScantrackTracker.on}. */
export interface ReportMap {
  error: ErrorReport;
  delivered: DeliveredReport;
  dropped: DroppedReport;
}

/** The tracker {@link init} resolves to. No method throws; bad input is an `error` report. */
export interface ScantrackTracker {
  /** Why this tracker is inert (every method a no-op), or `null` when it works. */
  readonly error: string | null;
  /**
   * Tracks one event. `name`: 1 to 128 characters. `conversion` becomes `conversion_value`.
   * @returns the event's `event_id` (UUID v4) when accepted, else `undefined` (see the `error` report).
   */
  track(name: string, properties?: Properties | null, conversion?: Conversion | null): string | undefined;
  /**
   * Tracks a `page_view` with `url`, `referrer` and the title in `properties.title`.
   * @returns the event's `event_id` when accepted, else `undefined`.
   */
  page(properties?: Properties | null): string | undefined;
  /** Attaches the identity's SHA-256 as `user_identifiers.email_hash` to every later event of the visit, until {@link reset}. */
  identify(identity: Identity): void;
  /**
   * Sends what is queued now, within the backoff and pacing rules.
   * @returns a promise that resolves (never rejects) once every event queued at the call is acknowledged, dropped, or waiting for a backoff or rate-limit deadline.
   */
  flush(): Promise<void>;
  /** Sets the consent state (see {@link ConsentState}). */
  consent(state: ConsentState): void;
  /** Starts a new session and forgets the identity. */
  reset(): void;
  /** Console logging on or off. */
  debug(on: boolean): void;
  /**
   * Observes outcomes; callbacks get plain objects, after the call that caused them returns.
   * @returns a function that removes the listener.
   */
  on<T extends keyof ReportMap>(type: T, callback: (report: ReportMap[T]) => void): () => void;
  /** The visit's `scan_session_id` (UUID), or `""` for an inert tracker. */
  sessionId(): string;
}

/**
 * Loads the wasm module (once per page) and creates a tracker. Never rejects: if the module
 * cannot load or the options are unusable it logs one console error, reports it to
 * `options.on.error`, and resolves to an inert tracker whose `error` says why.
 */
export function init(options: Options): Promise<ScantrackTracker>;
