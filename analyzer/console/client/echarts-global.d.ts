/** The ECharts browser bundle (echarts/dist/echarts.min.js) loaded by the page before the console's modules defines this global. */
declare const echarts: typeof import("echarts");
