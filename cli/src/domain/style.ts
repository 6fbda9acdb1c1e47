/** Text decoration; the plain style is the identity, so output is the same text either way. */
export interface Style {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

export const ANSI_STYLE: Style = {
  enabled: true,
  bold: sgr(1, 22),
  dim: sgr(2, 22),
  red: sgr(31, 39),
  green: sgr(32, 39),
  yellow: sgr(33, 39),
  cyan: sgr(36, 39),
};

const id = (s: string) => s;
export const PLAIN_STYLE: Style = { enabled: false, bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };

/**
 * Colour only for a person at a terminal: never when stdout is piped, when JSON is asked
 * for, with --no-color, or when NO_COLOR is set to anything non-empty (no-color.org).
 */
export function wantsColor(opts: {
  isTTY: boolean;
  json: boolean;
  noColorFlag: boolean;
  env: Record<string, string | undefined>;
}): boolean {
  if (opts.json || opts.noColorFlag || !opts.isTTY) return false;
  const noColor = opts.env.NO_COLOR;
  if (noColor !== undefined && noColor !== "") return false;
  return opts.env.TERM !== "dumb";
}

const ANSI = /\u001b\[[0-9;]*m/g;

export function visibleLength(s: string): number {
  return s.replace(ANSI, "").length;
}

/** Colour for an allocation state, the same in every command. */
export function stateStyle(style: Style, state: string): (s: string) => string {
  switch (state) {
    case "Allocated":
      return style.green;
    case "Pending":
      return style.yellow;
    case "Failed":
      return style.red;
    default:
      return style.dim;
  }
}
