/**
 * The subset of YAML that circuit-tracer's transcoder configs use, parsed without a dependency:
 * block mappings (`key: value`), block sequences (`- item`, items may be mappings spread over
 * indented lines), plain and quoted scalars (numbers, true/false, null), `#` comments, and empty
 * flow collections (`[]`, `{}`). Anchors, multi-line strings, flow collections with content and
 * documents (`---`) are refused with a message naming the line, so nothing is silently misread.
 */

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  indent: number;
  text: string;
  number: number;
}

export class YamlError extends Error {}

/** Parses `source` (the file's text); `where` names the file in errors. */
export function parseYaml(source: string, where = 'YAML'): YamlValue {
  const lines: Line[] = [];
  source.split(/\r?\n/).forEach((raw, i) => {
    const text = stripComment(raw).trimEnd();
    if (text.trim() === '') return;
    if (/^\s*\t/.test(raw)) throw new YamlError(`${where}: line ${i + 1}: tabs cannot indent YAML`);
    if (text.trim() === '---') {
      if (lines.length === 0) return;
      throw new YamlError(`${where}: line ${i + 1}: several YAML documents in one file are not supported`);
    }
    lines.push({ indent: text.length - text.trimStart().length, text: text.trim(), number: i + 1 });
  });
  if (lines.length === 0) return null;
  const state = { i: 0 };
  const value = parseBlock(lines, state, lines[0]!.indent, where);
  if (state.i < lines.length) throw new YamlError(`${where}: line ${lines[state.i]!.number}: unexpected indentation`);
  return value;
}

/** Removes a `#` comment that is not inside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

function parseBlock(lines: Line[], state: { i: number }, indent: number, where: string): YamlValue {
  const first = lines[state.i]!;
  return first.text === '-' || first.text.startsWith('- ')
    ? parseSequence(lines, state, indent, where)
    : parseMapping(lines, state, indent, where);
}

function parseSequence(lines: Line[], state: { i: number }, indent: number, where: string): YamlValue[] {
  const items: YamlValue[] = [];
  while (state.i < lines.length) {
    const line = lines[state.i]!;
    if (line.indent < indent) break;
    if (line.indent > indent) throw new YamlError(`${where}: line ${line.number}: unexpected indentation`);
    if (!(line.text === '-' || line.text.startsWith('- '))) break;
    const rest = line.text.slice(1).trimStart();
    if (rest === '') { // the item is the indented block below
      state.i++;
      items.push(state.i < lines.length && lines[state.i]!.indent > indent ? parseBlock(lines, state, lines[state.i]!.indent, where) : null);
    } else if (keyOf(rest) !== null) { // `- key: value` starts a mapping whose keys align with `key`
      const itemIndent = indent + (line.text.length - rest.length);
      lines[state.i] = { indent: itemIndent, text: rest, number: line.number };
      items.push(parseMapping(lines, state, itemIndent, where));
    } else {
      items.push(scalar(rest, line.number, where));
      state.i++;
    }
  }
  return items;
}

function parseMapping(lines: Line[], state: { i: number }, indent: number, where: string): { [key: string]: YamlValue } {
  const map: { [key: string]: YamlValue } = {};
  while (state.i < lines.length) {
    const line = lines[state.i]!;
    if (line.indent < indent) break;
    if (line.indent > indent) throw new YamlError(`${where}: line ${line.number}: unexpected indentation`);
    const key = keyOf(line.text);
    if (key === null) throw new YamlError(`${where}: line ${line.number}: expected "key: value", found ${JSON.stringify(line.text)}`);
    if (key.key in map) throw new YamlError(`${where}: line ${line.number}: key "${key.key}" appears twice`);
    state.i++;
    if (key.rest !== '') {
      map[key.key] = scalar(key.rest, line.number, where);
    } else if (state.i < lines.length && (lines[state.i]!.indent > indent
      || (lines[state.i]!.indent === indent && lines[state.i]!.text.startsWith('- ')))) {
      map[key.key] = parseBlock(lines, state, lines[state.i]!.indent, where); // YAML lets a list sit at its key's indent
    } else {
      map[key.key] = null;
    }
  }
  return map;
}

/** `key: rest` (key plain or quoted), or null when the text is not a mapping entry. */
function keyOf(text: string): { key: string; rest: string } | null {
  const quoted = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')\s*:(?:\s+(.*))?$/.exec(text);
  if (quoted) return { key: unquote(quoted[1]!), rest: (quoted[2] ?? '').trim() };
  const plain = /^([^\s"'#\-[{][^:]*?|-[^\s:][^:]*?)\s*:(?:\s+(.*))?$/.exec(text);
  return plain ? { key: plain[1]!, rest: (plain[2] ?? '').trim() } : null;
}

function unquote(text: string): string {
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  return JSON.parse(text) as string;
}

function scalar(text: string, lineNumber: number, where: string): YamlValue {
  if (text.startsWith('"') || text.startsWith("'")) {
    const quote = text[0]!;
    if (text.length < 2 || !text.endsWith(quote)) throw new YamlError(`${where}: line ${lineNumber}: unterminated quoted string`);
    try {
      return unquote(text);
    } catch {
      throw new YamlError(`${where}: line ${lineNumber}: bad escape in ${text}`);
    }
  }
  if (text === '[]') return [];
  if (text === '{}') return {};
  if (/^[[{&*!|>]/.test(text)) throw new YamlError(`${where}: line ${lineNumber}: this YAML feature is not supported here: ${JSON.stringify(text)}`);
  if (/^(null|Null|NULL|~)$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?(\d[\d_]*)?(\.\d+)?([eE][-+]?\d+)?$/.test(text) && /\d/.test(text)) return Number(text.replace(/_/g, ''));
  return text;
}
