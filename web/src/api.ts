// The server's HTTP API as the page uses it: the JSON shapes (see the README's
// "The server" section) and one function per call.

/** Counters of one stream (`StreamStats` on the server). */
export interface StreamStats {
  records_in: number;
  accepted: number;
  rejected: number;
  late: number;
  results_out: number;
  state_updates: number;
}

/** One stream of `GET /v1/streams`. */
export interface StreamInfo {
  name: string;
  source: string;
  source_detail: string | null;
  format: string;
  event_time: string | null;
  watermark_ms: number;
  watermark: number | null;
  stats: StreamStats;
  records_per_sec: number;
  state_groups: number;
  queries: string[];
}

/** Counters of one query. */
export interface QueryCounters {
  records_in: number;
  matched: number;
  results_out: number;
  late: number;
  rejected: number;
  state_groups: number;
}

/** One query of `GET /v1/queries`. */
export interface QueryInfo {
  name: string;
  stream: string;
  text: string;
  kind: "aggregate" | "filter";
  counters: QueryCounters;
  subscribers: number;
}

/** A predicate node of a shared plan. */
export interface PredicateNode {
  id: number;
  text: string;
  kind: "atom" | "and" | "or" | "not" | "const";
  children: number[];
  queries: string[];
}

/** `=`/`IN` atoms answered by one hash lookup on a field. */
export interface HashLookup {
  field: string;
  values: number;
  nodes: number[];
}

/** `CONTAINS`/`MATCHES` atoms answered by one scan of a field. */
export interface PatternScan {
  field: string;
  literals: number;
  regexes: number;
  nodes: number[];
}

/** An aggregation state shared by the queries listed. */
export interface StateNode {
  id: number;
  filter: number;
  keys: string[];
  pane_ms: number | null;
  accumulators: string[];
  queries: string[];
}

/** A filter query and the predicate node it emits on. */
export interface FilterNode {
  query: string;
  filter: number;
}

/** A stream's shared plan (`PlanDescription` on the server). */
export interface PlanDescription {
  stream: string;
  fields: string[];
  predicates: PredicateNode[];
  hash_lookups: HashLookup[];
  pattern_scans: PatternScan[];
  states: StateNode[];
  filters: FilterNode[];
}

/** `GET /v1/explain`. */
export interface Explain {
  streams: PlanDescription[];
  text: string;
}

/** `GET /v1/health`. */
export interface Health {
  status: string;
  uptime_seconds: number;
  streams: number;
  queries: number;
  batches: number;
}

/** What one statement did (`Outcome` on the server). */
export interface Outcome {
  kind: "stream_created" | "query_created" | "query_dropped" | "stream_dropped" | "explain";
  name?: string;
  stream?: string;
  text?: string;
}

/** A statement error, pointing into the text that was sent. */
export interface StatementError {
  message: string;
  kind?: string;
  line?: number;
  column?: number;
  token?: string;
  offset?: number;
  rendered?: string;
}

/** The answer to a statement: what ran, and the error that stopped it, if any. */
export interface StatementReply {
  results: Outcome[];
  error: StatementError | null;
}

/** A failed call, with the server's message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(path, { headers: { accept: "application/json" } });
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    throw new ApiFailure(r.status, body?.error?.message ?? `${path}: HTTP ${r.status}`);
  }
  return body as T;
}

export const api = {
  streams: () => getJson<{ streams: StreamInfo[] }>("/v1/streams").then((b) => b.streams),
  queries: () => getJson<{ queries: QueryInfo[] }>("/v1/queries").then((b) => b.queries),
  explain: () => getJson<Explain>("/v1/explain"),
  health: () => getJson<Health>("/v1/health"),

  /** Runs statements; a statement error is part of the reply, not a throw. */
  async execute(sql: string): Promise<StatementReply> {
    const r = await fetch("/v1/statements", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sql }),
    });
    const body = await r.json().catch(() => null);
    if (r.ok) {
      return { results: body?.results ?? [], error: null };
    }
    if (body?.error) {
      return { results: body.executed ?? [], error: body.error as StatementError };
    }
    throw new ApiFailure(r.status, `HTTP ${r.status}`);
  },

  /** Drops a query by name. */
  async dropQuery(name: string): Promise<void> {
    const r = await fetch(`/v1/queries/${encodeURIComponent(name)}`, { method: "DELETE" });
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      throw new ApiFailure(r.status, body?.error?.message ?? `HTTP ${r.status}`);
    }
  },
};
