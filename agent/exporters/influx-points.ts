/**
 * The points the InfluxDB sink writes, built from the agent's state; pure.
 *
 * Layout: one measurement per catalog metric (optionally prefixed), the series' labels as tags
 * (empty ones left out), one float field `value` — the layout InfluxDB 1.x's own Prometheus
 * remote-write endpoint (`/api/v1/prom/write`) produces, so the analyzer's InfluxDB store reads the
 * same metric names and labels as from Prometheus. Counters are written as the cumulative values
 * the agent exports (a restart resets them; `increase` handles it as Prometheus does), so a
 * downsampled `last()` keeps them exact at every retained point.
 *
 * Timestamps are set here, once: GPU points carry the time of the NVML sample they come from,
 * request points the time of the hand-off that read them. Spooled points keep them on replay, so a
 * point written twice overwrites itself (same measurement, tag set and timestamp).
 */
import { METRICS, type MetricDef } from "../../common/conventions.js";
import type { GpuView } from "../collectors/gpu-collector.js";
import type { GpuSample } from "../collectors/gpu-sample.js";
import type { LlmSeries, LlmSeriesStore } from "../processors/llm-series-store.js";

/** One point: measurement, tags, the `value` field, milliseconds since the epoch. */
export interface InfluxPoint {
  readonly measurement: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestampMs: number;
}

/** GPU fields written per sample: the ones capacity planning reads (utilization and activity, memory, power, energy). */
const GPU_FIELDS: readonly (readonly [MetricDef, (gpu: GpuSample) => number | undefined])[] = [
  [METRICS.utilization, (g) => g.utilizationRatio],
  [METRICS.memoryUtilization, (g) => g.memoryUtilizationRatio],
  [METRICS.memoryUsed, (g) => g.memoryUsedBytes],
  [METRICS.memoryTotal, (g) => g.memoryTotalBytes],
  [METRICS.power, (g) => g.powerWatts],
  [METRICS.powerLimit, (g) => g.powerLimitWatts],
  [METRICS.temperature, (g) => g.temperatureCelsius],
  [METRICS.smClock, (g) => g.smClockHertz],
  // GPM activity, so an analyzer reading InfluxDB has the same utilization bases as one reading Prometheus.
  [METRICS.smActive, (g) => g.activity?.sm],
  [METRICS.tensorActive, (g) => g.activity?.tensor],
];

/**
 * Tags without empty values (line protocol has none), line breaks (line protocol cannot escape them)
 * turned to spaces, and trailing backslashes dropped: the `influx` package escapes only `,`, `=` and
 * space, so a value ending in a backslash would escape the separator after it and the batch be refused.
 */
function withoutEmpty(tags: Record<string, string | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (value === undefined) continue;
    const clean = value.replace(/[\r\n]+/g, " ").replace(/\\+$/, "");
    if (clean !== "") kept[key] = clean;
  }
  return kept;
}

/**
 * The points of one GPU sampling round, stamped with the round's time: each up GPU's gauges (with
 * its holder's pod labels, as on /metrics), its energy counter (GPU labels only) and `gpu_up` for
 * every GPU. Empty when the view holds no round yet.
 */
export function gpuPoints(view: GpuView, node: string, prefix = ""): InfluxPoint[] {
  if (view.sampledAtMs === undefined) return [];
  const timestampMs = Math.round(view.sampledAtMs);
  const points: InfluxPoint[] = [];
  for (const gpu of view.samples) {
    const gpuTags = withoutEmpty({ node, gpu: String(gpu.index), uuid: gpu.uuid, gpu_model: gpu.model });
    points.push({ measurement: prefix + METRICS.gpuUp.name, tags: gpuTags, value: gpu.isUp ? 1 : 0, timestampMs });
    if (!gpu.isUp) continue;
    const holder = gpu.holder;
    const tags = holder
      ? withoutEmpty({
          ...gpuTags,
          namespace: holder.namespace,
          pod: holder.pod,
          container: holder.container,
          model: holder.model,
        })
      : gpuTags;
    for (const [def, read] of GPU_FIELDS) {
      const value = read(gpu);
      if (value !== undefined && Number.isFinite(value))
        points.push({ measurement: prefix + def.name, tags, value, timestampMs });
    }
    if (gpu.energyJoules !== undefined && Number.isFinite(gpu.energyJoules))
      points.push({ measurement: prefix + METRICS.energy.name, tags: gpuTags, value: gpu.energyJoules, timestampMs });
  }
  return points;
}

function requestTags(node: string, series: LlmSeries): Record<string, string> {
  const { model, runtime, namespace, pod, tier } = series.labels;
  return withoutEmpty({ model, runtime, namespace, pod, node, tier });
}

/**
 * The per-model request aggregates at `timestampMs`: the end-to-end latency histogram (cumulative
 * buckets, `le` spelled as on /metrics, so every SLO threshold is a bucket), its sum and count, the
 * requests by status and the tokens by type. Cumulative since the agent started.
 */
export function requestPoints(store: LlmSeriesStore, node: string, timestampMs: number, prefix = ""): InfluxPoint[] {
  const name = METRICS.llmRequestDuration.name;
  const bounds = store.bounds("e2e");
  const points: InfluxPoint[] = [];
  // InfluxDB refuses NaN and infinities (and with them the whole batch): such a value is left out.
  const push = (measurement: string, tags: Record<string, string>, value: number): void => {
    if (Number.isFinite(value)) points.push({ measurement: prefix + measurement, tags, value, timestampMs });
  };
  for (const series of store.all()) {
    const tags = requestTags(node, series);
    const e2e = series.histograms[0];
    if (e2e && e2e.count > 0) {
      let cumulative = 0;
      for (let slot = 0; slot <= bounds.length; slot++) {
        cumulative += e2e.counts[slot] as number;
        push(`${name}_bucket`, { ...tags, le: slot < bounds.length ? String(bounds[slot]) : "+Inf" }, cumulative);
      }
      push(`${name}_sum`, tags, e2e.sum);
      push(`${name}_count`, tags, e2e.count);
    }
    push(METRICS.llmRequests.name, { ...tags, status: "ok" }, series.ok);
    push(METRICS.llmRequests.name, { ...tags, status: "error" }, series.errors);
    push(METRICS.llmTokens.name, { ...tags, type: "prompt" }, series.promptTokens);
    push(METRICS.llmTokens.name, { ...tags, type: "completion" }, series.completionTokens);
  }
  return points;
}

/** Compact spool encoding of points: JSON of [measurement, tags, value, timestampMs] tuples. */
export function encodePoints(points: readonly InfluxPoint[]): Buffer {
  return Buffer.from(JSON.stringify(points.map((p) => [p.measurement, p.tags, p.value, p.timestampMs])));
}

/** Reverse of encodePoints; throws on a payload that is not one. */
export function decodePoints(payload: Buffer): InfluxPoint[] {
  const rows = JSON.parse(payload.toString("utf8")) as unknown;
  if (!Array.isArray(rows)) throw new Error("spool payload is not a list of points");
  return rows.map((row: unknown) => {
    if (
      !Array.isArray(row) ||
      typeof row[0] !== "string" ||
      typeof row[1] !== "object" ||
      row[1] === null ||
      typeof row[2] !== "number" ||
      typeof row[3] !== "number"
    ) {
      throw new Error("spool payload holds a malformed point");
    }
    return { measurement: row[0], tags: row[1] as Record<string, string>, value: row[2], timestampMs: row[3] };
  });
}
