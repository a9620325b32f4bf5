import { beforeAll, describe, expect, it } from "vitest";
import { parseFleetSnapshot } from "../../../analyzer/fleet/snapshot.js";
import { fleetSnapshotOf, writeHistory, type HistoryStats, type MetricSink } from "../../../cli/simulate/history.js";
import { GPU_LABELS, LLM_LABELS, POD_LABELS } from "../../../common/conventions.js";
import { DEFAULT_SCENARIO, type Scenario } from "../../../cli/simulate/scenario.js";

const MINUTE = 60_000;
const STEP = 5 * MINUTE;
const DAY = 86_400_000;
/** Midnight UTC: the incident (anchored at the end) then runs at minutes 3–13 of every even hour. */
const END = Date.UTC(2024, 6, 1);
const CURVE_MEAN = DEFAULT_SCENARIO.dayCurve.reduce((sum, value) => sum + value, 0) / 24;

type Labels = Readonly<Record<string, string>>;

/** What one pass over the default month leaves behind, gathered while streaming (13 M samples are not kept). */
interface Month {
  stats: HistoryStats;
  /** Counter samples lower than the series' previous one. */
  decreases: string[];
  /** Values at the last step, by name and label object. */
  final: Map<string, Map<Labels, number>>;
  /** Label keys seen per metric name. */
  labelKeys: Map<string, Set<string>>;
  /** 13B requests (all, and over 2 s) added in steps wholly inside and wholly outside incidents. */
  incident: { inside: [number, number]; outside: [number, number] };
  /** Energy and power of one GPU: first and last counter value, Σ power × step. */
  energy: { first?: number; last: number; integral: number };
  idleSeries: number;
}

/** Per metric name: whether it is a counter, and each series' previous value. */
interface NameState {
  readonly name: string;
  readonly isCounter: boolean;
  readonly isE2eBucket: boolean;
  readonly previous: Map<Labels, number>;
}

/** What the checks need to know of a label set, worked out once per label object. */
interface LabelFacts {
  readonly isIdleModel: boolean;
  readonly is13b: boolean;
  readonly le: string | undefined;
  readonly isEnergyGpu: boolean;
}

function month(): Month {
  const m: Month = {
    stats: { steps: 0, samples: 0, requests: {} },
    decreases: [],
    final: new Map(),
    labelKeys: new Map(),
    incident: { inside: [0, 0], outside: [0, 0] },
    energy: { last: 0, integral: 0 },
    idleSeries: 0,
  };
  const names = new Map<string, NameState>();
  const facts = new Map<Labels, LabelFacts>();
  let fast = 0;
  const sink: MetricSink = (name, labels, value, atMs) => {
    let state = names.get(name);
    if (!state) {
      state = {
        name,
        isCounter: /(_total|_bucket|_count|_sum)$/.test(name),
        isE2eBucket: name === "inferwatch_llm_request_duration_seconds_bucket",
        previous: new Map(),
      };
      names.set(name, state);
      m.labelKeys.set(name, new Set(Object.keys(labels)));
    }
    let fact = facts.get(labels);
    if (!fact) {
      fact = {
        isIdleModel: labels["model"] === "mistral-7b-awq",
        is13b: labels["model"] === "llama-2-13b-awq",
        le: labels["le"],
        isEnergyGpu: labels["node"] === "gpu-h100-0" && labels["gpu"] === "0",
      };
      facts.set(labels, fact);
    }
    const before = state.previous.get(labels);
    state.previous.set(labels, value);
    if (state.isCounter && before !== undefined && value < before && m.decreases.length < 10)
      m.decreases.push(`${name}${JSON.stringify(labels)}`);
    if (fact.isIdleModel && name.startsWith("inferwatch_llm_")) m.idleSeries++;
    if (atMs === END) {
      if (!m.final.has(name)) m.final.set(name, new Map());
      m.final.get(name)?.set(labels, value);
    }
    if (state.isE2eBucket && fact.is13b && before !== undefined) {
      // Buckets come in ascending le: le="2" (requests within 2 s) just before +Inf (all requests).
      if (fact.le === "2") fast = value - before;
      else if (fact.le === "+Inf") {
        // Minute of the 2-hour incident cycle at which this step ends: (p − 5, p] within [3, 13] or clear of it.
        const p = ((((atMs - END) % (2 * 60 * MINUTE)) + 2 * 60 * MINUTE) % (2 * 60 * MINUTE)) / MINUTE;
        const bin = p >= 8 && p <= 13 ? m.incident.inside : p <= 3 || p >= 18 ? m.incident.outside : undefined;
        if (bin) {
          bin[0] += value - before;
          bin[1] += value - before - fast;
        }
      }
    }
    if (fact.isEnergyGpu) {
      if (name === "inferwatch_gpu_energy_joules_total") {
        m.energy.first ??= value;
        m.energy.last = value;
      } else if (name === "inferwatch_gpu_power_watts" && atMs > END - 30 * DAY)
        m.energy.integral += value * (STEP / 1000);
    }
  };
  m.stats = writeHistory(DEFAULT_SCENARIO, { endMs: END, days: 30, stepMs: STEP }, sink);
  return m;
}

function sumFinal(m: Month, name: string, match: Labels): number {
  let sum = 0;
  for (const [labels, value] of m.final.get(name) ?? [])
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += value;
  return sum;
}

describe("a month of history for the default scenario", () => {
  let m: Month;
  beforeAll(() => {
    m = month();
  }, 120_000);

  // How fast it writes is the report benchmark's row (BENCH_ONLY=report), not a test's timing.
  it("writes 30 days at 5-minute steps", () => {
    expect(m.stats.steps).toBe(30 * 288 + 1);
  });

  it.each([
    ["llama-2-7b-awq", 8, 6],
    ["llama-2-13b-awq", 4, 5],
    ["llama-2-70b-awq", 1.2, 1],
  ] as const)(
    "counts %s's requests as peak × the day curve's mean × 30 days (each replica floored)",
    (model, peak, replicas) => {
      const handComputed = peak * CURVE_MEAN * 30 * 86_400;
      const counted = sumFinal(m, "inferwatch_llm_requests_total", { model });
      expect(counted).toBe(m.stats.requests[model]);
      expect(counted).toBeLessThanOrEqual(handComputed + 1e-6);
      expect(counted).toBeGreaterThan(handComputed - replicas);
      const errors = sumFinal(m, "inferwatch_llm_requests_total", { model, status: "error" });
      expect(errors / counted).toBeCloseTo(0.001, 4);
    },
  );

  it("keeps every counter cumulative: no sample below the one before", () => {
    expect(m.decreases).toEqual([]);
  });

  it("ends each histogram with buckets growing with le and +Inf equal to the count", () => {
    const buckets = m.final.get("inferwatch_llm_request_duration_seconds_bucket") ?? new Map();
    const byPod = new Map<string, number[]>();
    for (const [labels, value] of buckets)
      byPod.set(labels["pod"] as string, [...(byPod.get(labels["pod"] as string) ?? []), value]);
    expect(byPod.size).toBe(12);
    for (const [pod, values] of byPod) {
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(values.at(-1)).toBe(sumFinal(m, "inferwatch_llm_request_duration_seconds_count", { pod }));
    }
    const les = [...buckets.keys()]
      .filter((labels) => labels["pod"] === [...byPod.keys()][0])
      .map((labels) => labels["le"]);
    expect(les).toEqual([
      "0.05",
      "0.1",
      "0.25",
      "0.5",
      "0.75",
      "1",
      "1.2",
      "1.5",
      "2",
      "2.5",
      "3",
      "4",
      "5",
      "7.5",
      "10",
      "15",
      "20",
      "30",
      "60",
      "120",
      "+Inf",
    ]);
  });

  it("shows the incident as slow-bucket increases: ~30 % of the 13B over 2 s inside, under the 5 % budget outside", () => {
    const [insideAll, insideSlow] = m.incident.inside;
    const [outsideAll, outsideSlow] = m.incident.outside;
    expect(insideAll).toBeGreaterThan(10_000);
    const outside = outsideSlow / outsideAll;
    const inside = insideSlow / insideAll;
    expect(outside).toBeLessThan(0.05);
    expect(Math.abs(inside - (0.3 + 0.7 * outside))).toBeLessThan(0.03);
  });

  it("sends the idle model nothing: no LLM series at all", () => {
    expect(m.idleSeries).toBe(0);
    expect(sumFinal(m, "inferwatch_gpu_utilization_ratio", { model: "mistral-7b-awq" })).toBe(0);
    expect(sumFinal(m, "inferwatch_gpu_memory_used_bytes", { model: "mistral-7b-awq" })).toBe(2 * 8 * 1024 ** 3);
  });

  it("labels series as the agent does", () => {
    expect(m.labelKeys.get("inferwatch_llm_requests_total")).toEqual(new Set([...LLM_LABELS, "status"]));
    expect(m.labelKeys.get("inferwatch_llm_tokens_total")).toEqual(new Set([...LLM_LABELS, "type"]));
    expect(m.labelKeys.get("inferwatch_llm_queue_duration_seconds_bucket")).toEqual(new Set([...LLM_LABELS, "le"]));
    expect(m.labelKeys.get("inferwatch_llm_last_request_timestamp_seconds")).toEqual(new Set(LLM_LABELS));
    expect(m.labelKeys.get("inferwatch_gpu_utilization_ratio")).toEqual(new Set([...GPU_LABELS, ...POD_LABELS]));
    expect(m.labelKeys.get("inferwatch_gpu_info")).toEqual(
      new Set([...GPU_LABELS, "driver_version", "pci_bus_id", "source"]),
    );
    expect(
      [...(m.final.get("inferwatch_gpu_info")?.keys() ?? [])].every((labels) => labels["source"] === "simulated"),
    ).toBe(true);
    expect(m.final.get("inferwatch_gpu_info")?.size).toBe(20);
    expect(m.labelKeys.get("inferwatch_gpu_pod_info")).toEqual(new Set([...GPU_LABELS, ...POD_LABELS]));
    expect(sumFinal(m, "inferwatch_gpu_pod_info", { node: "gpu-h100-0", gpu: "5" })).toBe(2);
    expect(sumFinal(m, "inferwatch_gpu_pod_info", { model: "llama-2-70b-awq" })).toBe(4);
    // The shared H100 has two holders: like the agent, no pod labels on its value series.
    const shared = [...(m.final.get("inferwatch_gpu_utilization_ratio")?.keys() ?? [])].find(
      (labels) => labels["node"] === "gpu-h100-0" && labels["gpu"] === "5",
    );
    expect(shared && Object.keys(shared)).toEqual([...GPU_LABELS]);
  });

  it("counts energy consistent with the power it reports (within 1 %)", () => {
    const { first = 0, last, integral } = m.energy;
    expect(Math.abs(last - first - integral) / integral).toBeLessThan(0.01);
  });
});

describe("writeHistory", () => {
  /** Every sample's value and time, and every label set once, as bytes to compare. */
  function digest(scenario: Scenario): Buffer {
    const values: number[] = [];
    const labelTexts = new Map<Labels, string>();
    writeHistory(scenario, { endMs: END, days: 1 }, (name, labels, value, atMs) => {
      if (!labelTexts.has(labels)) labelTexts.set(labels, `${name}${JSON.stringify(labels)}`);
      values.push(value, atMs);
    });
    return Buffer.concat([
      Buffer.from(new Float64Array(values).buffer),
      Buffer.from([...labelTexts.values()].join("\n")),
    ]);
  }

  it("writes the same samples for the same seed, and others for another seed", () => {
    const first = digest(DEFAULT_SCENARIO);
    expect(first.equals(digest(DEFAULT_SCENARIO))).toBe(true);
    expect(first.equals(digest({ ...DEFAULT_SCENARIO, seed: 1 }))).toBe(false);
  });

  it("puts the agent's SLO thresholds among the bucket bounds", () => {
    const les = new Set<string>();
    writeHistory(
      DEFAULT_SCENARIO,
      { endMs: END, days: 1 / 24, spans: { buckets: [1, 10], sloThresholds: [1.2, 2.5] } },
      (name, labels) => {
        if (name === "inferwatch_llm_request_duration_seconds_bucket") les.add(labels["le"] as string);
      },
    );
    expect([...les]).toEqual(["1", "1.2", "2.5", "10", "+Inf"]);
  });
});

describe("fleetSnapshotOf", () => {
  const snapshot = fleetSnapshotOf(DEFAULT_SCENARIO, END + 14 * 3_600_000);

  it("is a valid fleet snapshot of the scenario's 20 GPUs and 14 replicas", () => {
    expect(parseFleetSnapshot(JSON.parse(JSON.stringify(snapshot)))).toEqual(snapshot);
    expect(snapshot.nodes.flatMap((node) => node.gpus)).toHaveLength(20);
    expect(snapshot.replicas).toHaveLength(14);
  });

  it("holds the 70B on four GPUs of one node and one NVLink domain", () => {
    const seventy = snapshot.replicas.find((replica) => replica.model === "llama-2-70b-awq");
    const node = snapshot.nodes.find((candidate) => candidate.name === seventy?.node);
    const domains = node?.gpus.filter((gpu) => seventy?.gpus.includes(gpu.uuid)).map((gpu) => gpu.nvlinkDomain);
    expect(seventy?.tensorParallel).toBe(4);
    expect(domains).toEqual(["nvlink-0", "nvlink-0", "nvlink-0", "nvlink-0"]);
  });

  it("shows the idle model as never requested and the others at their rate", () => {
    const idle = snapshot.replicas.filter((replica) => replica.model === "mistral-7b-awq");
    expect(idle.map((replica) => [replica.requestRate, replica.lastRequestAtMs])).toEqual([
      [0, null],
      [0, null],
    ]);
    const sevenB = snapshot.replicas.find((replica) => replica.model === "llama-2-7b-awq");
    expect(sevenB?.requestRate).toBeCloseTo(8 / 6, 12);
  });

  it("leaves stranded memory: partially used GPUs", () => {
    const partial = snapshot.nodes
      .flatMap((node) => node.gpus)
      .filter((gpu) => gpu.memoryUsedBytes > 0 && gpu.memoryUsedBytes < gpu.memoryTotalBytes / 2);
    expect(partial.length).toBeGreaterThan(5);
  });
});
