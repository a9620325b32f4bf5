// @ts-check
/**
 * The JSON API the console reads, typed by the analyzer's own types, and one fetch that fails loudly.
 * Every panel shows one or two of these responses; nothing is computed that the API does not say.
 */

/**
 * @typedef {{ readonly evaluatedAt: string | null, readonly stale: boolean, readonly error: string | null }} Envelope
 * @typedef {import("../../slo/evaluate.js").SloStatus} SloStatus
 * @typedef {import("../../fleet/evaluate.js").FleetEvaluation} FleetEvaluation
 * @typedef {import("../../fleet/fragmentation.js").FleetFragmentation} FleetFragmentation
 * @typedef {import("../../recommend/recommendations.js").Recommendations} Recommendations
 * @typedef {import("../utilization-history.js").UtilizationHistory} UtilizationHistory
 * @typedef {import("../runtime-now.js").RuntimeModelNow} RuntimeModelNow
 * @typedef {Envelope & { readonly slos: readonly SloStatus[] }} SlosResponse
 * @typedef {Pick<FleetEvaluation, "utilization" | "poolHours" | "targetRatio" | "efficiency"> & { readonly basis?: unknown }} FleetBody
 * @typedef {Envelope & { readonly fleet: FleetBody | null }} FleetResponse
 * @typedef {Envelope & { readonly fragmentation: FleetFragmentation | null }} FragmentationResponse
 * @typedef {Envelope & { readonly recommendations: Recommendations | null }} RecommendationsResponse
 * @typedef {Envelope & { readonly utilization: UtilizationHistory | null }} HistoryResponse
 * @typedef {Envelope & { readonly models: readonly RuntimeModelNow[] | null }} RuntimeResponse
 * @typedef {{ slos: SlosResponse, fleet: FleetResponse, fragmentation: FragmentationResponse, recommendations: RecommendationsResponse, history: HistoryResponse, runtime: RuntimeResponse }} ConsoleData
 */

/** The endpoint of each part of {@link ConsoleData}. */
export const ENDPOINTS = /** @type {const} */ ({
  slos: "/api/v1/slos",
  fleet: "/api/v1/fleet",
  fragmentation: "/api/v1/fragmentation",
  recommendations: "/api/v1/recommendations",
  history: "/api/v1/utilization/history",
  runtime: "/api/v1/runtime",
});

/**
 * GETs one endpoint of this origin as JSON; a non-2xx answer throws with its status.
 * @param {string} path
 * @returns {Promise<unknown>}
 */
async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/**
 * Every response the console shows, fetched together.
 * @returns {Promise<ConsoleData>}
 */
export async function fetchConsoleData() {
  const [slos, fleet, fragmentation, recommendations, history, runtime] = await Promise.all(
    Object.values(ENDPOINTS).map(getJson),
  );
  // The analyzer's own types describe these bodies; the page trusts its own origin's API.
  return /** @type {ConsoleData} */ ({ slos, fleet, fragmentation, recommendations, history, runtime });
}
