// @ts-check
/** Fragmentation and stranded memory per pool (and the fleet). */
import { emptyNote, fillPanel, table } from "./dom.js";
import { gib, percent } from "./format.js";

/**
 * One row of figures.
 * @param {string} name
 * @param {import("../../fleet/fragmentation.js").FragmentationFigures} f
 */
function row(name, f) {
  return [
    name,
    { text: String(f.gpus), value: f.gpus },
    { text: gib(f.freeBytes), value: f.freeBytes },
    { text: gib(f.strandedBytes), value: f.strandedBytes, cls: f.strandedBytes > 0 ? "below" : "" },
    { text: gib(f.expectedFragmentBytes), value: f.expectedFragmentBytes },
    { text: percent(f.fragmentationRatio), value: f.fragmentationRatio },
    { text: String(f.partiallyUsedGpus), value: f.partiallyUsedGpus },
    { text: String(f.idleGpus), value: f.idleGpus },
  ];
}

/** @param {import("./api.js").FragmentationResponse} response */
export function renderFragmentation(response) {
  const fragmentation = response.fragmentation;
  if (fragmentation === null) {
    fillPanel("fragmentation", "empty", [emptyNote("Waiting for the first evaluation.")]);
    return;
  }
  const rows = [...fragmentation.pools.map((pool) => row(pool.pool, pool)), row("fleet", fragmentation.total)];
  fillPanel("fragmentation", "drawn", [
    table(
      [
        "pool",
        "GPUs",
        "free memory",
        "stranded",
        "expected fragment (FGD)",
        "fragmentation",
        "partly used GPUs",
        "idle GPUs",
      ],
      rows,
      { id: "fragmentation-table" },
    ),
  ]);
}
