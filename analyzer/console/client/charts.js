// @ts-check
/** ECharts on the console: one instance per chart element, redrawn in place on every refresh. */

/** @type {Set<import("echarts").ECharts>} */
const instances = new Set();

/**
 * Draws (or redraws) the chart in `#chart-<id>` with an ECharts option.
 * @param {string} id
 * @param {import("echarts").EChartsOption} option
 */
export function drawChart(id, option) {
  const element = document.getElementById(`chart-${id}`);
  if (!element) throw new Error(`console: no chart ${id}`);
  const chart = echarts.getInstanceByDom(element) ?? echarts.init(element, null, { renderer: "canvas" });
  chart.setOption({ animation: false, ...option }, { notMerge: true });
  instances.add(chart);
}

window.addEventListener("resize", () => {
  for (const chart of instances) if (!chart.isDisposed()) chart.resize();
});
