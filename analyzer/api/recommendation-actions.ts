/**
 * Operator actions on recommendations: acknowledge (seen, will act) or dismiss (will not act). The
 * analyzer keeps the latest action per recommendation id in memory (recommendations are recomputed
 * every evaluation, so an id names what a recommendation is about, not one evaluation's copy of
 * it) and every attempt goes to the audit log. Nothing is applied to the cluster.
 */
import type { IncomingMessage } from "node:http";
import type { AuditLog } from "../../common/auth/audit-log.js";
import { requesterOf } from "../../common/auth/http-guard.js";
import type { Principal } from "../../common/auth/tokens.js";
import { json, type RouteHandler, type RouteResponse } from "../../common/http-server.js";
import type { Recommendations } from "../recommend/recommendations.js";

/** What an operator did to a recommendation. */
export type RecommendationAction = "acknowledged" | "dismissed";

/** The latest action on one recommendation. */
export interface ActionRecord {
  readonly id: string;
  readonly state: RecommendationAction;
  readonly by: string;
  readonly at: string;
  readonly note?: string;
}

/** Largest request body of an action (an id and a short note). */
const MAX_BODY_BYTES = 4096;
const MAX_NOTE_CHARS = 500;

/**
 * The ids of every recommendation in a result: `move:<namespace>/<pod>` (a consolidation step),
 * `evict:<namespace>/<pod>`, `scale-to-zero:<model>`, `adapter:<model>/<adapter>`,
 * `cold-storage:<weights>`. Stable across evaluations as long as the recommendation stands.
 */
export function recommendationIds(recommendations: Recommendations | undefined): Set<string> {
  const ids = new Set<string>();
  if (!recommendations) return ids;
  for (const move of recommendations.consolidation.moves) ids.add(`move:${move.namespace}/${move.pod}`);
  for (const eviction of recommendations.idle.evictions) ids.add(`evict:${eviction.namespace}/${eviction.pod}`);
  for (const candidate of recommendations.idle.scaleToZero) ids.add(`scale-to-zero:${candidate.model}`);
  for (const adapter of recommendations.idle.adapters) ids.add(`adapter:${adapter.model}/${adapter.adapter}`);
  for (const weights of recommendations.idle.coldStorage) ids.add(`cold-storage:${weights.weights}`);
  return ids;
}

type BodyResult =
  | { readonly ok: true; readonly id: string; readonly note: string | undefined }
  | { readonly ok: false; readonly message: string };

async function readActionBody(request: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { ok: false, message: `body over ${MAX_BODY_BYTES} bytes` };
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return { ok: false, message: 'expected a JSON body {"id": "...", "note"?: "..."}' };
  }
  if (typeof value !== "object" || value === null) return { ok: false, message: "expected a JSON object" };
  const { id, note } = value as { id?: unknown; note?: unknown };
  if (typeof id !== "string" || id === "") return { ok: false, message: "id: expected a recommendation id" };
  if (note !== undefined && (typeof note !== "string" || note.length > MAX_NOTE_CHARS))
    return { ok: false, message: `note: expected a string of at most ${MAX_NOTE_CHARS} characters` };
  return { ok: true, id, note };
}

/** Acknowledgements and dismissals, with the POST routes that record them. */
/** The action each operator path performs, as written in the audit log. */
const ACTION_PATHS: Readonly<Record<string, string>> = {
  "/api/v1/recommendations/acknowledge": "recommendation.acknowledge",
  "/api/v1/recommendations/dismiss": "recommendation.dismiss",
};

export class RecommendationActions {
  private readonly records = new Map<string, ActionRecord>();

  constructor(
    private readonly current: () => Recommendations | undefined,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every recorded action, newest last. */
  list(): ActionRecord[] {
    return [...this.records.values()];
  }

  /** POST /api/v1/recommendations/acknowledge and /dismiss, body `{"id": "...", "note"?: "..."}`. */
  routes(): Record<string, RouteHandler> {
    return {
      "/api/v1/recommendations/acknowledge": (request) => this.act(request, "acknowledged"),
      "/api/v1/recommendations/dismiss": (request) => this.act(request, "dismissed"),
    };
  }

  /**
   * Audits an attempt on an action path that the guard refused before it reached the action (no or
   * a bad token, or a role below operator). Other paths are not operator actions and are ignored.
   */
  auditRefusal(
    request: IncomingMessage,
    path: string,
    outcome: "unauthenticated" | "forbidden",
    principal: Principal | undefined,
  ): void {
    const action = ACTION_PATHS[path];
    if (action === undefined || request.method !== "POST") return;
    void this.audit.record({
      time: new Date(this.now()).toISOString(),
      who: principal?.name ?? "unknown",
      role: principal?.role ?? "none",
      action,
      target: "",
      outcome,
      remote: request.socket.remoteAddress ?? "",
    });
  }

  private async act(request: IncomingMessage, state: RecommendationAction): Promise<RouteResponse> {
    const { who, role } = requesterOf(request);
    const at = new Date(this.now()).toISOString();
    const body = await readActionBody(request);
    const base = {
      time: at,
      who,
      role,
      action: `recommendation.${state === "acknowledged" ? "acknowledge" : "dismiss"}`,
      remote: request.socket.remoteAddress ?? "",
    };
    if (!body.ok) {
      await this.audit.record({ ...base, target: "", outcome: "invalid" });
      return json(400, { error: body.message });
    }
    if (!recommendationIds(this.current()).has(body.id)) {
      await this.audit.record({ ...base, target: body.id, outcome: "not-found" });
      return json(404, { error: "no current recommendation has this id" });
    }
    const record: ActionRecord = {
      id: body.id,
      state,
      by: base.who,
      at,
      ...(body.note === undefined ? {} : { note: body.note }),
    };
    this.records.delete(body.id);
    this.records.set(body.id, record);
    await this.audit.record({
      ...base,
      target: body.id,
      outcome: "ok",
      ...(body.note === undefined ? {} : { note: body.note }),
    });
    return json(200, record);
  }
}
