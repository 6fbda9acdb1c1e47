import { visibleLength } from "./style.js";

export interface Column {
  header: string;
  align?: "left" | "right";
}

/**
 * A plain-text table: columns padded to their widest visible cell (colour escapes do not
 * count), two spaces apart, no trailing blanks so output diffs cleanly.
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  header: (s: string) => string = (s) => s,
): string {
  const widths = columns.map((c, i) => Math.max(visibleLength(c.header), ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const line = (cells: readonly string[], decorate: (s: string) => string = (s) => s) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        const pad = " ".repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(cell)));
        const last = i === columns.length - 1;
        if (c.align === "right") return pad + decorate(cell);
        return last ? decorate(cell) : decorate(cell) + pad;
      })
      .join("  ")
      .trimEnd();
  return [
    line(
      columns.map((c) => c.header),
      header,
    ),
    ...rows.map((r) => line(r)),
  ].join("\n");
}

/** Orders IPv4 numerically, IPv6 after IPv4, and anything else by text, so tables read naturally. */
export function compareIp(a: string, b: string): number {
  const ka = ipKey(a);
  const kb = ipKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function ipKey(ip: string): string {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (v4)
    return `4${v4
      .slice(1)
      .map((o) => o.padStart(3, "0"))
      .join(".")}`;
  if (ip.includes(":")) return `6${ip}`;
  return `9${ip}`;
}
