/**
 * The worker: leases due jobs from the store (any instance's, after their lease expired), sends
 * them through the providers with bounded concurrency, and records the outcome in a commit
 * unit: sent, retried with exponential backoff and jitter, deferred for quiet hours (low
 * priority only), or failed — a failed patient notice then goes to the pharmacist or the on-call
 * fallback.
 */
import type { RelayCtx, Tx } from "../context";
import { PHARMACIST_REF } from "../context";
import { pharmacistOf, pickChannel, quietUntil } from "../contacts";
import type { NoticeInput } from "../notices";
import type { Job, Notice, SendResult } from "../types";
import { jobFor } from "./plan";
import { finalize } from "./receipts";

export interface WorkerOptions {
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly maxAttempts: number;
}

export class Worker {
  private inflight = 0;
  private readonly inflightDone = new Set<() => void>();
  private pumping = false;
  private again = false;

  constructor(
    private readonly ctx: RelayCtx,
    private readonly o: WorkerOptions,
  ) {}

  get busy(): boolean {
    return this.pumping || this.inflight > 0;
  }

  kick(): void {
    if (this.ctx.life.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.again && !this.ctx.life.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Resolves when no send is in flight and no lease pass runs. */
  idle(): Promise<void> {
    return this.waitWhile(() => this.busy, 5);
  }

  /** Resolves when no send is in flight (a lease pass may still run). */
  sendsDone(): Promise<void> {
    return this.waitWhile(() => this.inflight > 0, 20);
  }

  /** Waits while `cond` holds: woken when a send finishes, else polled every `everyMs`. */
  private async waitWhile(cond: () => boolean, everyMs: number): Promise<void> {
    while (cond()) {
      await new Promise<void>((r) => {
        this.inflightDone.add(r);
        setTimeout(() => {
          this.inflightDone.delete(r);
          r();
        }, everyMs);
      });
    }
  }

  private async pump(): Promise<void> {
    const { ctx, o } = this;
    for (;;) {
      this.again = false;
      const room = o.concurrency - this.inflight;
      if (room <= 0 || ctx.life.stopped) return;
      let jobs: Job[];
      try {
        jobs = await ctx.db.leaseJobs(ctx.instanceId, ctx.clock(), o.leaseMs, room);
      } catch (e) {
        ctx.log(`[${ctx.instanceId}] lease failed ${String(e)}`);
        return;
      }
      for (const j of jobs) {
        this.inflight++;
        void this.run(j)
          .catch((e) => ctx.log(`[${ctx.instanceId}] job ${j.id} error ${String(e)}`))
          .finally(() => {
            this.inflight--;
            for (const f of this.inflightDone) f();
            // Lease in batches: refill when half the slots are free (or all, for small pools).
            if (this.inflight <= o.concurrency / 2) this.kick();
          });
      }
      if (jobs.length < room && !this.again) return;
    }
  }

  private backoff(attempt: number): number {
    const d = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(d * (0.8 + Math.random() * 0.4));
  }

  /**
   * Commits a job's outcome, retrying while the store fails (restart, lock) for as long as the
   * job's lease lasts: a notification already sent must not be sent again by the instance that
   * would take the job over once its lease expired. Past the lease the commit is given up (the
   * finish is refused anyway: another instance owns the job).
   */
  private async commit(leasedAt: number, fn: Parameters<RelayCtx["unit"]>[0]): Promise<void> {
    const ctx = this.ctx;
    const deadline = leasedAt + this.o.leaseMs * 0.8;
    for (let wait = 50; ; wait = Math.min(2000, wait * 2)) {
      try {
        return await ctx.unit(fn);
      } catch (e) {
        if (ctx.life.dead || ctx.clock() + wait > deadline) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async run(j: Job): Promise<void> {
    const ctx = this.ctx;
    const leasedAt = ctx.clock();
    const person = ctx.book.people[j.person];
    const notice = JSON.parse(j.notice) as Notice;
    let now = ctx.clock();
    if (person === undefined)
      return this.commit(leasedAt, (x) => this.fail(x, j, "RELAY_UNKNOWN_RECIPIENT", now, "person removed from contacts"));
    if (j.priority === "low") {
      const until = quietUntil(person.quiet, now);
      if (until !== undefined && until > now) {
        return this.commit(leasedAt, async (x) => {
          if (await x.db.finishJob(j.id, ctx.instanceId, { state: "pending", attempts: j.attempts, nextAt: until, code: "QUIET", now })) {
            await ctx.audit(x, "notify.deferred", j.device, "QUIET", { key: j.key, ref: j.ref, until: new Date(until).toISOString() });
          }
        });
      }
    }
    const provider = ctx.providers[j.ch];
    if (provider === undefined) return this.commit(leasedAt, (x) => this.fail(x, j, "RELAY_NO_PROVIDER", now, j.ch));
    let r: SendResult;
    try {
      r = await provider.send(j.ch, person, notice);
    } catch (e) {
      r = { ok: false, retry: true, code: "RELAY_PROVIDER_ERROR", detail: e instanceof Error ? e.message : String(e) };
    }
    if (ctx.life.dead) return;
    now = ctx.clock();
    const attempts = j.attempts + 1;
    if (r.ok) {
      const ok = r;
      return this.commit(leasedAt, async (x) => {
        if (await x.db.finishJob(j.id, ctx.instanceId, { state: "sent", attempts, code: null, providerId: ok.providerId ?? null, now })) {
          await ctx.audit(x, "notify.sent", j.device, null, {
            key: j.key,
            ref: j.ref,
            person: j.person,
            ch: j.ch,
            kind: j.kind,
            provider: provider.name,
            attempts,
            id: ok.providerId ?? null,
          });
          await finalize(ctx, x, j.key);
        }
      });
    }
    if (r.retry && attempts < this.o.maxAttempts) {
      const nextAt = now + this.backoff(attempts);
      const err = r;
      return this.commit(leasedAt, async (x) => {
        if (await x.db.finishJob(j.id, ctx.instanceId, { state: "pending", attempts, nextAt, code: err.code, now })) {
          await ctx.audit(x, "notify.retry", j.device, err.code, {
            key: j.key,
            ref: j.ref,
            ch: j.ch,
            attempts,
            status: err.status ?? null,
            nextAt: new Date(nextAt).toISOString(),
          });
          const left = await x.db.jobsOf(j.key);
          if (left.find((y) => y.id === j.id)?.state === "cancelled") await finalize(ctx, x, j.key);
        }
      });
    }
    const detail = { status: r.status ?? null, last: r.code, detail: r.detail ?? null };
    const code = r.retry ? "RELAY_RETRIES" : r.code;
    return this.commit(leasedAt, (x) => this.fail(x, j, code, now, detail, attempts));
  }

  private async fail(x: Tx, j: Job, code: string, now: number, detail: unknown, attempts = j.attempts + 1): Promise<void> {
    const ctx = this.ctx;
    if (!(await x.db.finishJob(j.id, ctx.instanceId, { state: "failed", attempts, code, now }))) return;
    await ctx.audit(x, "notify.failed", j.device, code, { key: j.key, ref: j.ref, person: j.person, ch: j.ch, kind: j.kind, detail });
    if (!j.isFallback && j.kind !== "back-online" && j.kind !== "refill") {
      // A patient is at stake: tell the device's pharmacist (or the on-call fallback) instead.
      const book = ctx.book;
      let ph = pharmacistOf(book, j.device);
      if (ph && ph.id === j.person) ph = book.fallback !== undefined && book.fallback !== j.person ? book.people[book.fallback] : undefined;
      const ch = ph && pickChannel(ph, "sms");
      if (ph && ch && !ctx.allowFallback(j.device, now)) {
        await ctx.audit(x, "notify.problem", j.device, "RELAY_FALLBACK_LIMITED", { key: j.key });
      } else if (ph && ch) {
        const n: NoticeInput = {
          kind: "fallback",
          key: j.key,
          device: j.device,
          ...(j.slot ? { slot: j.slot } : {}),
          failedRef: j.ref,
          failedCh: j.ch,
          code,
        };
        if (await x.db.addJob(jobFor(ctx, j.device, j.key, j.slot, PHARMACIST_REF, ph, ch, n, now, true))) x.after(() => ctx.kick());
      } else {
        await ctx.audit(x, "notify.problem", j.device, "RELAY_NO_FALLBACK", { key: j.key });
      }
    }
    await finalize(ctx, x, j.key);
  }
}
