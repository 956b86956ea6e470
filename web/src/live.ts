// One websocket to `/v1/live` for every query on the page: subscribes to the
// queries the page shows, forwards results, reconnects after a drop.

/** A result as the server sends it (the JSON of `shoal run`). */
export interface ResultMessage {
  query: string;
  window_start?: number | null;
  window_end?: number | null;
  group?: Record<string, unknown>;
  values?: Record<string, unknown>;
  row?: Record<string, unknown>;
  partial?: boolean;
}

/** What the feed tells the page. */
export interface FeedHooks {
  result(msg: ResultMessage): void;
  /** The server ended a query's feed (it was dropped). */
  closed(query: string, reason: string): void;
  /** The socket skipped `count` results of a query (it fell behind). */
  lagged(query: string, count: number): void;
  /** The socket is up (true) or down (false). */
  status(connected: boolean): void;
}

const MAX_BACKOFF_MS = 5000;

/** The page's live connection. */
export class LiveFeed {
  private ws: WebSocket | null = null;
  private readonly wanted = new Set<string>();
  private backoff = 250;

  constructor(private readonly hooks: FeedHooks) {
    this.connect();
  }

  /** Subscribes to exactly these queries. */
  setQueries(names: Iterable<string>): void {
    const next = new Set(names);
    const add = [...next].filter((n) => !this.wanted.has(n));
    const remove = [...this.wanted].filter((n) => !next.has(n));
    for (const n of add) this.wanted.add(n);
    for (const n of remove) this.wanted.delete(n);
    if (add.length) this.send({ subscribe: add });
    if (remove.length) this.send({ unsubscribe: remove });
  }

  /** Forgets a query the server closed, so that a new one of that name is subscribed again. */
  forget(name: string): void {
    this.wanted.delete(name);
  }

  private send(msg: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private connect(): void {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/v1/live`);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 250;
      this.hooks.status(true);
      if (this.wanted.size) this.send({ subscribe: [...this.wanted] });
    };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = () => {
      this.hooks.status(false);
      this.ws = null;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    };
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(data, exactIntegers);
    } catch {
      return;
    }
    if (typeof msg.query === "string" && ("values" in msg || "row" in msg)) {
      this.hooks.result(msg as unknown as ResultMessage);
    } else if (typeof msg.closed === "string") {
      this.wanted.delete(msg.closed);
      this.hooks.closed(msg.closed, String(msg.reason ?? ""));
    } else if (typeof msg.lagged === "number" && typeof msg.query === "string") {
      this.hooks.lagged(msg.query, msg.lagged);
    }
    // Replies to (un)subscribe carry nothing the page needs.
  }
}

/**
 * Keeps integers beyond 2^53 (tweet ids, say) exact, as BigInt, where the
 * browser gives revivers the source text; other numbers stay numbers.
 */
function exactIntegers(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source) {
    return /^-?\d+$/.test(context.source) ? BigInt(context.source) : value;
  }
  return value;
}
