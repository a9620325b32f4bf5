/**
 * Reads the `data` of a Prometheus answer into the store's rows, checking its shape as it goes
 * (https://prometheus.io/docs/prometheus/latest/querying/api/#expression-query-result-formats).
 * A hand-written walk, not a schema library: an answer of ten thousand series is read in one pass
 * with no intermediate copies, and a malformed one fails with the path of the first bad element.
 */
import type { TimedValue } from "../fleet/utilization.js";
import type { LabeledSamples, LabeledValue, SeriesLabels } from "./metric-store.js";

/** A malformed answer; the message says where. */
export class AnswerShapeError extends Error {
  override readonly name = "AnswerShapeError";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Prometheus's sample value encoding: a string, with `NaN`, `+Inf` and `-Inf` spelled out. */
export function parseSampleValue(text: unknown, where: string): number {
  if (typeof text !== "string")
    throw new AnswerShapeError(`${where}: a sample value must be a string, got ${JSON.stringify(text)}`);
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = Number(text);
  if (Number.isNaN(value) || text.trim() === "")
    throw new AnswerShapeError(`${where}: not a sample value: ${JSON.stringify(text)}`);
  return value;
}

/** The labels of a result row, without `__name__` unless `keepName`. */
function labelsOf(metric: unknown, where: string, keepName = false): SeriesLabels {
  if (!isRecord(metric)) throw new AnswerShapeError(`${where}.metric: expected an object`);
  const labels: Record<string, string> = {};
  for (const name in metric) {
    const value = metric[name];
    if (typeof value !== "string") throw new AnswerShapeError(`${where}.metric.${name}: expected a string`);
    if (keepName || name !== "__name__") labels[name] = value;
  }
  return labels;
}

function samplePair(pair: unknown, where: string): TimedValue {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "number")
    throw new AnswerShapeError(`${where}: expected [unix seconds, "value"]`);
  return { atMs: Math.round(pair[0] * 1000), value: parseSampleValue(pair[1], where) };
}

function resultOf(data: unknown, resultType: "vector" | "matrix"): unknown[] {
  if (!isRecord(data)) throw new AnswerShapeError("data: expected an object");
  if (data["resultType"] !== resultType)
    throw new AnswerShapeError(`data.resultType: expected ${resultType}, got ${JSON.stringify(data["resultType"])}`);
  const result = data["result"];
  if (!Array.isArray(result)) throw new AnswerShapeError("data.result: expected an array");
  return result;
}

/** An instant query's rows; `keepName` keeps `__name__` (for queries grouping by it). */
export function readVector(data: unknown, options: { readonly keepName?: boolean } = {}): LabeledValue[] {
  const result = resultOf(data, "vector");
  const rows: LabeledValue[] = new Array<LabeledValue>(result.length);
  for (let i = 0; i < result.length; i++) {
    const row = result[i];
    const where = `data.result[${i}]`;
    if (!isRecord(row)) throw new AnswerShapeError(`${where}: expected an object`);
    rows[i] = {
      labels: labelsOf(row["metric"], where, options.keepName),
      value: samplePair(row["value"], `${where}.value`).value,
    };
  }
  return rows;
}

/** A range query's rows. */
export function readMatrix(data: unknown): LabeledSamples[] {
  const result = resultOf(data, "matrix");
  const rows: LabeledSamples[] = new Array<LabeledSamples>(result.length);
  for (let i = 0; i < result.length; i++) {
    const row = result[i];
    const where = `data.result[${i}]`;
    if (!isRecord(row)) throw new AnswerShapeError(`${where}: expected an object`);
    const values = row["values"];
    if (!Array.isArray(values)) throw new AnswerShapeError(`${where}.values: expected an array`);
    const samples: TimedValue[] = new Array<TimedValue>(values.length);
    for (let k = 0; k < values.length; k++) samples[k] = samplePair(values[k], `${where}.values[${k}]`);
    rows[i] = { labels: labelsOf(row["metric"], where), samples };
  }
  return rows;
}
