/**
 * The router interface the simulator consumes: what a router reads of each replica, what it is
 * given when built, and the one decision it makes. The routers themselves (and their registry)
 * are in policies/routers.ts.
 */
import type { RequestTable } from './requests.ts';

/** What a router may read of one replica at submission time (sim/engine.ts implements it). */
export interface ReplicaLoad {
  /** Unfinished requests on the replica: waiting, running (incl. paused) and swapped. */
  readonly outstandingRequests: number;
  /** Σ (prompt + generated so far) tokens over the replica's unfinished requests. */
  readonly outstandingTokens: number;
  /** Llumnix freeness: (free KV blocks − head-of-line demand) / (requests + 1); higher is freer. */
  readonly freeness: number;
  /**
   * Prompt tokens of request `id` this replica's prefix cache holds now (the leading blocks it
   * would take if admitted: docs/prefix-caching.md); 0 without prefix caching.
   */
  cachedPrefixTokens(id: number): number;
}

/** What a router is given when it is built. */
export interface RouterContext {
  /** The replicas, by index (length ≥ 1). */
  readonly replicas: readonly ReplicaLoad[];
  /** The run's request table (prompt lengths, program ids). */
  readonly requests: RequestTable;
  /** Seeded uniform [0, 1) generator (the run's `--seed`). */
  readonly random: () => number;
}

/** A router: one instance per run. */
export interface Router {
  /** CLI name. */
  readonly name: string;
  /** Replica index in [0, replicas) for request `id` submitted at `now` seconds. */
  route(id: number, now: number): number;
}
