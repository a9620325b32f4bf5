import type { MemoryStore } from "../../analyzer/stores/memory-store.js";
import type { MetricSink } from "./history.js";

/**
 * A history sink appending into an embedded store through one cached appender per series. The
 * history reuses each series' labels object, so appenders are cached by it (no key built per sample).
 */
export function storeSink(store: MemoryStore): MetricSink {
  const appenders = new Map<Readonly<Record<string, string>>, Map<string, ReturnType<MemoryStore["seriesAppender"]>>>();
  return (name, labels, value, atMs) => {
    let byName = appenders.get(labels);
    if (!byName) appenders.set(labels, (byName = new Map<string, ReturnType<MemoryStore["seriesAppender"]>>()));
    let appender = byName.get(name);
    if (appender === undefined) byName.set(name, (appender = store.seriesAppender(name, labels)));
    appender?.append(value, atMs);
  };
}
