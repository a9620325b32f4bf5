// @ts-check
/** Small DOM builders: elements, tables whose numeric cells keep the API's raw value, panel bodies. */

/**
 * @typedef {string | { readonly text: string, readonly value?: number | null, readonly cls?: string, readonly title?: string }} Cell
 */

/**
 * An element with attributes and children (text or nodes).
 * @param {string} tag
 * @param {Readonly<Record<string, string>>} [attrs]
 * @param {readonly (Node | string)[]} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/**
 * A table. A cell given a `value` carries it as `data-value` (the API's number, unrounded), so a
 * reader (or the browser test) can compare the page with the API exactly.
 * @param {readonly string[]} headers
 * @param {readonly (readonly Cell[])[]} rows
 * @param {Readonly<Record<string, string>>} [attrs]
 */
export function table(headers, rows, attrs = {}) {
  const head = h("thead", {}, [
    h(
      "tr",
      {},
      headers.map((header) => h("th", {}, [header])),
    ),
  ]);
  const body = h(
    "tbody",
    {},
    rows.map((row) =>
      h(
        "tr",
        {},
        row.map((cell) => {
          if (typeof cell === "string") return h("td", {}, [cell]);
          /** @type {Record<string, string>} */
          const cellAttrs = {};
          if (cell.value !== undefined) cellAttrs["data-value"] = cell.value === null ? "null" : String(cell.value);
          if (cell.cls !== undefined) cellAttrs["class"] = cell.cls;
          if (cell.title !== undefined) cellAttrs["title"] = cell.title;
          return h("td", cellAttrs, [cell.text]);
        }),
      ),
    ),
  );
  return h("table", attrs, [head, body]);
}

/**
 * Replaces a panel's body and records whether it drew something or says why not.
 * @param {string} id panel id (`slos`, `heatmap`, …)
 * @param {"drawn" | "empty" | "error"} state
 * @param {readonly (Node | string)[]} children
 */
export function fillPanel(id, state, children) {
  const panel = document.getElementById(`panel-${id}`);
  const body = panel?.querySelector(".body");
  if (!panel || !body) throw new Error(`console: no panel ${id}`);
  body.replaceChildren(...children);
  panel.dataset["state"] = state;
}

/**
 * A paragraph saying why a panel has nothing to show.
 * @param {string} text
 */
export function emptyNote(text) {
  return h("p", { class: "empty" }, [text]);
}

/**
 * A chart container of a given height, drawn by ECharts once it is in the document.
 * @param {string} id
 * @param {number} heightPx
 */
export function chartBox(id, heightPx) {
  return h("div", { class: "chart", id: `chart-${id}`, style: `height:${heightPx}px` });
}
