/**
 * The discrete-event loop: arrivals from a trace, iteration ends from one or several replicas'
 * engines, program calls released as their parents finish, all on one clock. The core knows only
 * time and events (SimPy's shape); engines, policies, the router and the metrics sit on it. Under
 * pipeline parallelism each replica is several engines (its virtual engines, sim/pipeline.ts),
 * each with its own iteration ends.
 */
import type { Trace } from './trace.ts';
import type { Policy } from './policy.ts';
import type { CostModel } from './cost/cost-model.ts';
import type { PipelineCost } from './cost/pipeline.ts';
import { EventQueue } from './event-queue.ts';
import { Engine } from './engine.ts';
import { emptyEngineStats } from './engine-types.ts';
import type { EngineConfig, EngineStats, IterationObserver } from './engine-types.ts';
import type { ReplicaLoad, Router } from './router.ts';
import { RequestTable } from './requests.ts';
import { ProgramRelease } from './programs.ts';
import { PrefixTables } from './prefix-cache.ts';
import { PipelineReplica } from './pipeline.ts';
import { DecodePool } from './disaggregation.ts';
import type { DisaggregationInput } from './disaggregation.ts';
import { Migrator } from './migration.ts';
import type { MigrationConfig, MigrationStats, Rescheduler } from './migration.ts';
import { Autoscaler } from './autoscale.ts';
import type { ScalingConfig, ScalingStats } from './autoscale.ts';

/** Event kinds. */
const ARRIVAL = 0;
const ITERATION_END = 1;
/** A dependent call of a program is submitted (its last parent finished `delay_s` ago). */
const RELEASE = 2;
/** The idle engine forms a batch (after every same-time release has been queued). */
const WAKE = 3;
/** A request's KV has arrived at its decode replica (disaggregation): it moves there. */
const TRANSFER = 4;
/** A rescheduler's poll (live migration). */
const POLL = 5;
/** The copy of a migration stage ends (id: the migration's slot). */
const MOVE = 6;
/** An auto-scaling check. */
const SCALE = 7;
/** A new instance's start-up ends (id: the instance). */
const READY = 8;

/** Everything one run needs. */
export interface SimulationInput {
  trace: Trace;
  /**
   * The policy, or one fresh instance per engine: a cluster of `policy.length` replicas, or of
   * `policy.length / pipeline.stages` replicas of `pipeline.stages` virtual engines each (replica
   * r's are instances r·stages to r·stages + stages − 1).
   */
  policy: Policy | readonly Policy[];
  /**
   * Builds the router of a cluster from its replicas' loads and the request table; required with
   * more than one replica, unused with one.
   */
  router?: (replicas: readonly ReplicaLoad[], requests: RequestTable) => Router;
  cost: CostModel;
  /**
   * Pipeline parallelism (absent or 1 stage: none): each replica runs `stages` virtual engines
   * whose micro-batches are timed through the stages it prices (sim/pipeline.ts).
   */
  pipeline?: PipelineCost;
  /** Settings of every replica (replicas are identical); of each virtual engine under pipeline parallelism. */
  engine: EngineConfig;
  /**
   * Disaggregated prefill and decode (sim/disaggregation.ts): the replicas of `policy` become the
   * prefill pool (with `engine`, `cost` and `router`) and these settings add the decode pool.
   * Not with pipeline parallelism.
   */
  disaggregation?: DisaggregationInput;
  /** Called after each iteration is formed, on any replica (tests, time series). */
  observer?: IterationObserver;
  /** Called now and then with the fraction of requests that have arrived (0..1), for a progress bar. */
  onProgress?: (fraction: number) => void;
  /**
   * Live migration between replicas (sim/migration.ts): the rescheduler polled every
   * `rescheduler.interval_s` while the run has work, and how KV is copied. Needs several replicas
   * and no pipeline parallelism.
   */
  migration?: { rescheduler: Rescheduler; config: MigrationConfig };
  /**
   * Auto-scaling (sim/autoscale.ts): `policy.length` is the most instances (`max`); the first
   * `initial` serve from time 0; the router sees the serving ones only. Needs several colocated
   * replicas and no pipeline parallelism.
   */
  autoscale?: ScalingConfig;
  /**
   * Priority class per request, 0 normal or 1 high (Llumnix §4.4), length `trace.n`; absent: no
   * priorities (`RequestTable.prioritized` false).
   */
  priority?: Uint8Array;
}

/** What a run produces. Per-request times (and replicas) live in `requests`. */
export interface SimulationResult {
  requests: RequestTable;
  /** Counters summed over replicas (`kvMaxBlocks`: the largest of any one replica). */
  stats: EngineStats;
  /**
   * Counters of each replica (of all its virtual engines together under pipeline parallelism:
   * sim/pipeline.ts `stats`); disaggregated, the prefill replicas then the decode replicas.
   */
  replicas: EngineStats[];
  /** Disaggregated runs: the pools' sizes (replicas 0..prefill−1 prefill, the rest decode), KV transfers and the bytes they moved per link. */
  pools?: { prefill: number; decode: number; transfers: number; bytes: number };
  /** Simulated time of the last event (s): the last completion, or the last arrival. */
  end_s: number;
  /** Events processed by the loop. */
  events: number;
  /** Wall-clock time of the loop (s). */
  wall_s: number;
  /** The run's migrations, with `SimulationInput.migration`. */
  migration?: MigrationStats;
  /** The run's auto-scaling, with `SimulationInput.autoscale`. */
  autoscale?: ScalingStats;
}

/**
 * Runs a trace through one replica, or several behind a router, until every request has
 * completed or been rejected. Each request is routed once, when it is submitted (a trace arrival,
 * or a program call whose parents have finished plus its delay).
 *
 * Skip-ahead stays exact with several replicas: a replica bundles identical decode iterations only
 * up to the next event that could route a request to it or read its load (the next arrival or
 * release), and, for program traces, up to the next iteration end of any other replica (whose
 * completions may release calls).
 * Under pipeline parallelism a request routed to a replica joins the virtual engine with the
 * fewest unfinished requests (vLLM v0), and skip-ahead bundles a virtual engine's decode steps only
 * while the replica's other virtual engines are idle with nothing queued.
 * With `migration`, a rescheduler is polled at every whole multiple of its interval while any
 * request is unfinished (or yet to arrive), after the other events of that instant; replicas
 * bundle no decode steps past the next poll or stage end, so skip-ahead stays exact. Replicas left
 * idle with work (their blocks held by a migration) are woken after each poll and stage end.
 * @throws Error if simulated time would go back, the engine stalls, a router returns a replica
 *   out of range, several replicas are given without a router, the policies are not a whole
 *   number of replicas, or migration is asked of one replica or with pipeline parallelism (all
 *   bugs, not input errors).
 */
export function simulate(input: SimulationInput): SimulationResult {
  const t0 = performance.now();
  const { trace } = input;
  const policies: readonly Policy[] = Array.isArray(input.policy) ? input.policy : [input.policy as Policy];
  /** Engines: one per replica, or `stages` per replica under pipeline parallelism. */
  const N = policies.length;
  if (N < 1) throw new Error('simulate: no policy');
  const stages = input.pipeline && input.pipeline.stages > 1 ? input.pipeline.stages : 1;
  if (N % stages !== 0) throw new Error(`simulate: ${N} policies for replicas of ${stages} virtual engines`);
  const nReplicas = N / stages;
  const requests = new RequestTable(trace, input.priority);
  const shared = new Map<string, unknown>();
  const prefixTables = input.engine.prefixCaching ? new PrefixTables(requests, input.engine.blockSize) : undefined;
  const groups = stages > 1 ? Array.from({ length: nReplicas }, () => new PipelineReplica(input.pipeline!)) : undefined;
  const prefillEngines = policies.map((p, u) => {
    const index = Math.floor(u / stages);
    return new Engine(input.engine, requests, p, input.cost, { observer: input.observer, shared, index, prefixTables, pipeline: groups?.[index] });
  });
  if (input.autoscale && (nReplicas < 2 || stages > 1 || input.disaggregation)) throw new Error('simulate: auto-scaling needs several colocated replicas and no pipeline parallelism');
  const scaler = input.autoscale ? new Autoscaler(prefillEngines, input.autoscale) : undefined;
  /** With auto-scaling, what the router sees: the serving engines in index order (kept in place). */
  const view: Engine[] = [];
  const syncView = () => {
    view.length = 0;
    for (const i of scaler!.serving) view.push(prefillEngines[i]);
  };
  if (scaler) syncView();
  let router: Router | undefined;
  if (nReplicas > 1) {
    if (!input.router) throw new Error(`simulate: ${nReplicas} replicas need a router`);
    router = input.router(scaler ? view : (groups ?? prefillEngines), requests);
  }
  // Disaggregated: the decode replicas follow the prefill ones (engine index = replica index).
  const dis = input.disaggregation;
  if (dis && stages > 1) throw new Error('simulate: disaggregation with pipeline parallelism is not modelled');
  if (dis && dis.decodePolicy.length < 1) throw new Error('simulate: no decode replica');
  const decodeEngines = dis
    ? dis.decodePolicy.map((p, d) => new Engine(dis.decodeEngine, requests, p, dis.decodeCost, { observer: input.observer, shared, index: N + d, prefixTables }))
    : [];
  const engines = dis ? [...prefillEngines, ...decodeEngines] : prefillEngines;
  const pool = dis ? new DecodePool(decodeEngines, requests, dis) : undefined;
  /** Total engines: N prefill (or colocated) engines, then the decode engines. */
  const E = engines.length;
  const q = new EventQueue();
  if (input.migration && (nReplicas < 2 || stages > 1 || dis)) throw new Error('simulate: migration needs several colocated replicas and no pipeline parallelism');
  /**
   * Migration events (polls, stage ends): each runs once no other event is due at or before its
   * time, so after the iteration ends, arrivals and batch formations of its instant, whichever
   * order they were queued in (bundling decode steps or not then makes no difference).
   */
  const ctl = new EventQueue(8);
  const migr = input.migration ? new Migrator(engines, requests, input.engine.blockSize, input.migration.config, input.migration.rescheduler, (t, slot) => ctl.push(t, MOVE, slot), scaler?.state) : undefined;
  /** Whether a poll, a scaling check is queued. */
  let pollQueued = false;
  let scaleQueued = false;
  const n = trace.n;
  const arrival = trace.arrival_s;
  const deps = trace.programs ? new ProgramRelease(trace) : undefined;
  /** Times of the pending RELEASE events (for the skip-ahead horizon). */
  const releases = new EventQueue();
  /**
   * Per engine: end of its iteration in flight, or `now` when it is due to form a batch at this
   * instant, or Infinity when idle. Bounds other engines' skip-ahead on program traces.
   */
  const endAt = new Float64Array(E).fill(Infinity);
  const bundleAcrossReplicas = !deps || E === 1;
  // Submissions from the trace: every request, or the roots of programs, in arrival order.
  const order = deps ? deps.roots : undefined;
  const nOrder = order ? order.length : n;
  const at = (k: number) => (order ? order[k] : k);
  if (deps) {
    const release = (child: number, t: number) => {
      q.push(t, RELEASE, child);
      releases.push(t, RELEASE, child);
    };
    for (const engine of engines) engine.onComplete = (id, now) => deps.finished(id, now, release);
  }
  /** Routes request `id` to a replica (and, with pipelines, a virtual engine of it); @returns the engine's index. */
  const submit = (id: number, now: number): number => {
    let r = router ? router.route(id, now) : 0;
    const choices = scaler ? view.length : nReplicas;
    if (!(r >= 0 && r < choices && Number.isInteger(r))) throw new Error(`router ${router!.name} sent request ${id} to replica ${r} of ${choices}`);
    if (scaler) r = scaler.serving[r];
    const v = groups ? groups[r].pick() : 0;
    const u = r * stages + v;
    requests.replica[id] = r;
    requests.virtualEngine[id] = v;
    requests.arrival[id] = now;
    if (pool) requests.prefillReplica[id] = r;
    // Disaggregated, it must also fit a decode replica for its whole life.
    const fits = !pool || decodeEngines[0].canEverFit(id);
    if (!engines[u].arrive(id, now, fits) && deps) deps.rejected(id, (d) => engines[u].reject(d, 'ancestor'));
    return u;
  };
  const startTransfer = (id: number, end: number) => q.push(end, TRANSFER, id);
  if (pool) for (const e of prefillEngines) e.onPrefilled = (id, now) => pool.handoff(id, now, startTransfer);
  let next = 0;
  const start = (u: number, now: number) => {
    // A decode replica pulls the KV of the requests queued for it as its blocks allow, whenever it
    // forms a batch: its free blocks grow only at iteration boundaries, and skip-ahead bundles
    // none where they grow (a completion or a preemption ends a bundle), so stepping pulls no sooner.
    if (pool && u >= N) pool.pump(u - N, now, startTransfer);
    let horizon = Math.min(next < nOrder ? arrival[at(next)] : Infinity, releases.peekTime());
    if (migr || scaler) horizon = Math.min(horizon, ctl.peekTime());
    if (migr) horizon = Math.min(horizon, migr.horizonFor(u, endAt));
    if (!bundleAcrossReplicas) for (let k = 0; k < E; k++) if (k !== u && endAt[k] < horizon) horizon = endAt[k];
    if (pool && u >= N) {
      // A decode replica's batch changes when a transfer to it ends, and its KV and loads are read
      // by handoffs, which come at prefill iteration ends: those under way, and those of prefill
      // replicas woken by an arrival or by the end of any transfer (which frees their blocks).
      // Transfers start later too where another decode replica still has requests queued for it:
      // at its next batch, which may pull one.
      horizon = Math.min(horizon, pool.nextArrival());
      for (let k = 0; k < N; k++) if (endAt[k] < horizon) horizon = endAt[k];
      for (let k = N; k < E; k++) if (k !== u && endAt[k] < horizon && pool.queued(k - N)) horizon = endAt[k];
    }
    const end = engines[u].start(now, horizon);
    endAt[u] = end >= 0 ? end : Infinity;
    if (end >= 0) q.push(end, ITERATION_END, u);
  };
  const wake = (u: number, now: number) => {
    endAt[u] = now;
    q.push(now, WAKE, u);
  };
  /** Whether any request is unfinished or yet to arrive, or a migration is in flight. */
  const workLeft = () => next < nOrder || releases.size > 0 || (migr !== undefined && migr.active > 0) || engines.some((e) => e.holdsAnything());
  /** The first whole multiple of `dt` after `now`. */
  const nextMultiple = (now: number, dt: number) => {
    let k = Math.floor(now / dt) + 1;
    while (k * dt <= now) k++;
    return k * dt;
  };
  /** Queues the next poll, at the first multiple of the interval after `now`, while the run has work. */
  const queuePoll = (now: number) => {
    if (!migr || pollQueued || !workLeft()) return;
    ctl.push(nextMultiple(now, migr.interval_s), POLL, 0);
    pollQueued = true;
  };
  /** Queues the next scaling check likewise. */
  const queueScale = (now: number) => {
    if (!scaler || scaleQueued || !workLeft()) return;
    ctl.push(nextMultiple(now, scaler.cfg.interval_s), SCALE, 0);
    scaleQueued = true;
  };
  /** Removes the draining instance once it holds nothing and takes part in no migration. */
  const removeDrained = (now: number) => {
    const d = scaler!.draining;
    if (d < 0 || engines[d].busy || engines[d].holdsAnything() || migr?.migrating(d)) return;
    scaler!.remove(now);
    endAt[d] = Infinity;
  };
  /** Wakes the idle engines with work (blocks a migration held may have been freed or adopted). */
  const wakeIdle = (now: number) => {
    for (let u = 0; u < N; u++) if (!engines[u].busy && endAt[u] === Infinity && engines[u].hasWork()) wake(u, now);
  };
  const progressEvery = Math.max(1, Math.floor(nOrder / 200));
  if (nOrder > 0) q.push(arrival[at(0)], ARRIVAL, 0);
  if (scaler && nOrder > 0) scaler.begin(arrival[at(0)]);
  let events = 0;
  let last = -Infinity;
  /** Time of the last arrival, release, batch or iteration end (the last completion is one). */
  let lastMain = -Infinity;
  for (;;) {
    if (ctl.size > 0 && ctl.peekTime() < q.peekTime()) {
      ctl.pop();
      const now = ctl.poppedTime;
      if (now < last) throw new Error(`time went back: ${now} < ${last}`);
      const kind = ctl.poppedKind;
      if (kind === SCALE) scaleQueued = false;
      // Scaling events after the last request are dropped: they would only stretch the run.
      if ((kind === SCALE || kind === READY) && !workLeft()) continue;
      last = now;
      events++;
      if (kind === POLL) {
        pollQueued = false;
        migr!.poll(now);
        queuePoll(now);
      } else if (kind === SCALE) {
        const i = scaler!.check(now);
        if (i >= 0) ctl.push(now + scaler!.cfg.startup_s, READY, i);
        syncView();
        removeDrained(now);
        queueScale(now);
      } else if (kind === READY) {
        scaler!.ready(ctl.poppedId, now);
        syncView();
      } else migr!.advance(ctl.poppedId, now);
      if (scaler) removeDrained(now);
      wakeIdle(now);
      continue;
    }
    if (!q.pop()) break;
    const now = q.poppedTime;
    if (now < last) throw new Error(`time went back: ${now} < ${last}`);
    last = now;
    lastMain = now;
    events++;
    const kind = q.poppedKind;
    if (kind === ARRIVAL) {
      // Every request arriving at this instant joins before any replica next forms a batch.
      while (next < nOrder && arrival[at(next)] <= now) {
        submit(at(next), now);
        next++;
        if (input.onProgress && next % progressEvery === 0) input.onProgress(next / nOrder);
      }
      if (next < nOrder) q.push(arrival[at(next)], ARRIVAL, next);
      // Idle engines with work form a batch now (all marked first: they start at the same instant).
      for (let u = 0; u < E; u++) if (!engines[u].busy && engines[u].hasWork()) endAt[u] = now;
      for (let u = 0; u < E; u++) if (!engines[u].busy && engines[u].hasWork()) start(u, now);
      queuePoll(now);
      queueScale(now);
    } else if (kind === RELEASE) {
      releases.pop();
      const u = submit(q.poppedId, now);
      // Wake after every release due at this instant (they were queued before this wake).
      if (!engines[u].busy) wake(u, now);
    } else if (kind === WAKE) {
      if (!engines[q.poppedId].busy) start(q.poppedId, now);
    } else if (kind === TRANSFER) {
      // The KV has arrived: the request leaves its prefill replica and decodes on its decode replica.
      const id = q.poppedId;
      const src = requests.replica[id];
      const dst = requests.reservedOn[id];
      engines[src].detach(id);
      pool!.arrived(id, dst - N);
      engines[dst].adopt(id, requests.computed[id], now);
      if (!engines[dst].busy) wake(dst, now);
      if (!engines[src].busy && engines[src].hasWork()) wake(src, now);
    } else {
      const u = q.poppedId;
      engines[u].finish(now);
      if (migr?.boundary(u, now)) wakeIdle(now);
      // Events due at this same instant (a call released with no delay, an arrival) join the
      // next batch: form it after them.
      if (q.peekTime() === now) wake(u, now);
      else start(u, now);
      if (scaler) removeDrained(now);
    }
  }
  for (const engine of engines) if (engine.holdsAnything()) throw new Error('simulation ended with requests still queued');
  if (pool?.busy()) throw new Error('simulation ended with requests still waiting for a decode replica');
  input.onProgress?.(1);
  const replicas = groups ? groups.map((g) => g.stats()) : engines.map((e) => e.stats);
  // Instances count until the last completion (a poll after it would only stretch the run).
  scaler?.finish(lastMain === -Infinity ? 0 : lastMain);
  const pools = pool ? { prefill: N, decode: decodeEngines.length, transfers: pool.transfers, bytes: pool.bytes } : undefined;
  return { requests, stats: sumStats(replicas), replicas, ...(pools ? { pools } : {}), end_s: last === -Infinity ? 0 : last, events, wall_s: (performance.now() - t0) / 1000, migration: migr?.stats, ...(scaler ? { autoscale: scaler.stats } : {}) };
}

/** Sums replicas' counters; the KV peak is the largest single replica's. */
function sumStats(all: readonly EngineStats[]): EngineStats {
  if (all.length === 1) return all[0];
  const total = emptyEngineStats();
  for (const s of all) {
    for (const k of Object.keys(total) as (keyof EngineStats)[]) {
      total[k] = k === 'kvMaxBlocks' ? Math.max(total[k], s[k]) : total[k] + s[k];
    }
  }
  return total;
}
