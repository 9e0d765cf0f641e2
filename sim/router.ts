/**
 * The router interface the simulator consumes: what a router reads of each replica, what it is
 * given when built, and the one decision it makes. The routers themselves (and their registry)
 * are in policies/routers.ts.
 */
import type { RequestTable } from './requests.ts';
import type { CostModel } from './cost/cost-model.ts';
import type { Predictor } from './predictor.ts';

/** What a router may read of one replica at submission time (sim/engine.ts implements it). */
export interface ReplicaLoad {
  /** Unfinished requests on the replica: waiting, running (incl. paused) and swapped. */
  readonly outstandingRequests: number;
  /** Σ (prompt + generated so far) tokens over the replica's unfinished requests. */
  readonly outstandingTokens: number;
  /**
   * Llumnix dispatch freeness: (free KV blocks − watermark − waiting requests' blocks) / (running +
   * waiting requests), +Infinity with none; higher is freer (sim/engine.ts).
   */
  readonly freeness: number;
  /** The denominator of `freeness`: running and waiting requests. */
  readonly freenessRequests: number;
  /**
   * Prompt tokens of request `id` this replica's prefix cache holds now (the leading blocks it
   * would take if admitted: docs/prefix-caching.md); 0 without prefix caching.
   */
  cachedPrefixTokens(id: number): number;
  /**
   * Calls `visit` once with the id of each unfinished request on the replica (waiting, running
   * incl. paused, swapped), in no particular order; `visit` must not change the replica. What a
   * router that reads each request's phase and progress (`RequestTable`) iterates over.
   */
  forEachRequest(visit: (id: number) => void): void;
}

/** What a router is given when it is built. */
export interface RouterContext {
  /** The replicas, by index (length ≥ 1). */
  readonly replicas: readonly ReplicaLoad[];
  /** The run's request table (prompt lengths, program ids). */
  readonly requests: RequestTable;
  /** Seeded uniform [0, 1) generator (the run's `--seed`). */
  readonly random: () => number;
  /**
   * The run's cost model (prices one iteration of a replica), for routers that estimate latency;
   * absent where a caller builds a router that needs none.
   */
  readonly cost?: CostModel;
  /**
   * The run's length predictor, already attached to the trace, for routers that use predicted
   * output lengths (`RouterEntry.predictor`); absent otherwise.
   */
  readonly predictor?: Predictor;
}

/** A router: one instance per run. */
export interface Router {
  /** CLI name. */
  readonly name: string;
  /** Replica index in [0, replicas) for request `id` submitted at `now` seconds. */
  route(id: number, now: number): number;
}
