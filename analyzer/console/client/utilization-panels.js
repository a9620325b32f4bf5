// @ts-check
/** Utilization per pool against the target (chart and table) and the GPU × time heatmap. */
import { drawChart } from "./charts.js";
import { chartBox, emptyNote, fillPanel, h, table } from "./dom.js";
import { clock, percent } from "./format.js";

/**
 * The utilization basis the API states, or NVML's utilization.gpu when it states none.
 * @param {import("./api.js").FleetBody} fleet
 */
export function basisText(fleet) {
  const basis = fleet.basis ?? ("basis" in fleet.utilization ? fleet.utilization.basis : undefined);
  return typeof basis === "string" && basis !== "" ? basis : "busy (utilization.gpu)";
}

/**
 * @param {import("./api.js").FleetResponse} fleetResponse
 * @param {import("./api.js").HistoryResponse} historyResponse
 */
export function renderUtilization(fleetResponse, historyResponse) {
  const fleet = fleetResponse.fleet;
  const history = historyResponse.utilization;
  if (fleet === null || history === null) {
    fillPanel("utilization", "empty", [emptyNote("Waiting for the first evaluation.")]);
    return;
  }
  const hours = new Map(fleet.poolHours.map((p) => [p.pool, p]));
  const day = new Map(fleet.utilization.day.pools.map((p) => [p.key, p]));
  const rows = fleet.utilization.hour.pools.map((pool) => {
    const atTarget = hours.get(pool.key);
    return [
      pool.key,
      { text: String(pool.gpus), value: pool.gpus },
      {
        text: percent(pool.meanRatio),
        value: pool.meanRatio,
        cls: pool.meanRatio !== null && pool.meanRatio < fleet.targetRatio ? "below" : "",
      },
      { text: percent(day.get(pool.key)?.meanRatio), value: day.get(pool.key)?.meanRatio ?? null },
      {
        text: atTarget
          ? `${percent(atTarget.shareRatio)} (${atTarget.hoursAtTarget} of ${atTarget.hoursWithData} h)`
          : "–",
        value: atTarget?.shareRatio ?? null,
      },
    ];
  });
  fillPanel("utilization", "drawn", [
    h("p", { class: "basis", id: "utilization-basis" }, [
      `Basis: ${basisText(fleet)} · target ${percent(fleet.targetRatio)}`,
    ]),
    chartBox("utilization", 240),
    table(["pool", "GPUs", "last hour", "last day", "day's hours at target"], rows, { id: "utilization-table" }),
  ]);
  drawChart("utilization", {
    tooltip: { trigger: "axis", valueFormatter: (v) => (typeof v === "number" ? percent(v) : "–") },
    legend: { top: 0 },
    grid: { left: 50, right: 20, top: 30, bottom: 30 },
    xAxis: { type: "category", data: history.times.map(clock) },
    yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)} %` } },
    series: history.pools.map((pool, i) => ({
      name: pool.key,
      type: "line",
      showSymbol: false,
      connectNulls: false,
      data: [...pool.values],
      ...(i === 0
        ? {
            markLine: {
              symbol: "none",
              silent: true,
              lineStyle: { type: "dashed", color: "#c0392b" },
              label: { position: "insideEndTop", formatter: `target ${percent(fleet.targetRatio)}` },
              data: [{ yAxis: fleet.targetRatio }],
            },
          }
        : {}),
    })),
  });
}

/** @param {import("./api.js").HistoryResponse} response */
export function renderHeatmap(response) {
  const history = response.utilization;
  if (history === null || history.rows.length === 0) {
    fillPanel("heatmap", "empty", [
      emptyNote(
        history === null
          ? "Waiting for the first evaluation."
          : "No GPU utilization series in the store for the last six hours.",
      ),
    ]);
    return;
  }
  /** @type {[number, number, number][]} */
  const cells = [];
  history.rows.forEach((row, y) =>
    row.values.forEach((value, x) => {
      if (value !== null) cells.push([x, y, value]);
    }),
  );
  const noun = history.rowKind === "gpu" ? "GPU (node/index)" : history.rowKind;
  fillPanel("heatmap", "drawn", [
    h("p", { class: "basis" }, [
      `Rows: ${history.rows.length} ${noun}s · ${history.metric} · ${history.stepMs / 60_000}-minute steps`,
    ]),
    chartBox("heatmap", Math.max(200, history.rows.length * 14 + 90)),
  ]);
  drawChart("heatmap", {
    tooltip: {
      formatter: (p) => {
        const data = (Array.isArray(p) ? p[0] : p)?.data;
        if (!Array.isArray(data)) return "";
        const [x, y, value] = data;
        return `${history.rows[Number(y)]?.key ?? ""} at ${clock(history.times[Number(x)] ?? 0)}: ${percent(Number(value))}`;
      },
    },
    grid: { left: 130, right: 20, top: 10, bottom: 70 },
    xAxis: { type: "category", data: history.times.map(clock) },
    yAxis: { type: "category", data: history.rows.map((row) => row.key), inverse: true, axisLabel: { fontSize: 10 } },
    visualMap: {
      min: 0,
      max: 1,
      orient: "horizontal",
      left: "center",
      bottom: 0,
      calculable: false,
      inRange: { color: ["#f0f4fa", "#9ec1ff", "#3a6fd8", "#10306b"] },
      formatter: (v) => `${Math.round(Number(v) * 100)} %`,
    },
    series: [{ name: "utilization", type: "heatmap", data: cells }],
  });
}
