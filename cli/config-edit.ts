/**
 * Edits one color's image version in an environment's config file (config/<env>.ts) as text, for `npm run release --
 * ship|prepare`. The file is TypeScript written by people: the editor finds exactly one
 * `services: { <service>: { … colors: { <color>: { … version: '<v>' } } } }` in the exported config object, replaces
 * the string literal and nothing else (comments, formatting, quotes kept), and refuses, saying why and what to do,
 * when it cannot be sure: a part that comes from a spread (`...FRONTEND`) or a constant, a key written twice, a spread
 * after the key that could override it. Pure (text in, text out); the caller re-loads the config to verify.
 */

/** A refusal: the file is left as it was. */
export class ConfigEditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigEditError';
  }
}

/** End (exclusive) of the string, template literal or comment starting at `i`; `i` when none starts there. */
function skipLiteral(text: string, i: number): number {
  const c = text[i];
  if (c === '/' && text[i + 1] === '/') {
    const n = text.indexOf('\n', i);
    return n < 0 ? text.length : n;
  }
  if (c === '/' && text[i + 1] === '*') {
    const n = text.indexOf('*/', i + 2);
    return n < 0 ? text.length : n + 2;
  }
  if (c === "'" || c === '"' || c === '`') {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === c) return j + 1;
      else if (c === '`' && text[j] === '$' && text[j + 1] === '{') j = matching(text, j + 1);
    }
    throw new ConfigEditError(`unterminated string at offset ${i}`);
  }
  return i;
}

/** Index of the bracket closing the one at `open` (`{`, `[` or `(`). */
function matching(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; ) {
    const j = skipLiteral(text, i);
    if (j !== i) {
      i = j;
      continue;
    }
    const c = text[i];
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') {
      depth--;
      if (depth === 0) return i;
    }
    i++;
  }
  throw new ConfigEditError(`unbalanced '${text[open]}' at offset ${open}`);
}

/** Skips whitespace and comments from `i`. */
function skipSpace(text: string, i: number): number {
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) i++;
    const j = text[i] === '/' ? skipLiteral(text, i) : i;
    if (j === i) return i;
    i = j;
  }
}

interface Member {
  /** The property name, or undefined for a spread (`...X`) or any other entry. */
  readonly key?: string;
  /** Start of the value (after `:`). */
  readonly value: number;
}

/** The members of the object literal whose `{` is at `open`, in order. */
function members(text: string, open: number): Member[] {
  const close = matching(text, open);
  const out: Member[] = [];
  let i = open + 1;
  for (;;) {
    i = skipSpace(text, i);
    if (i >= close) return out;
    const start = i;
    const quoted = text[i] === "'" || text[i] === '"';
    const ident = /^[A-Za-z_$][\w$]*/.exec(text.slice(i, i + 200));
    let key: string | undefined;
    let after = i;
    if (quoted) {
      after = skipLiteral(text, i);
      key = text.slice(i + 1, after - 1);
    } else if (ident) {
      after = i + ident[0].length;
      key = ident[0];
    }
    after = skipSpace(text, after);
    const isProperty = key !== undefined && text[after] === ':';
    out.push(isProperty ? { key, value: skipSpace(text, after + 1) } : { value: start });
    // Skip to the comma ending this member (at this object's depth) or the end of the object.
    for (i = isProperty ? after + 1 : start; i < close && text[i] !== ','; ) {
      const j = skipLiteral(text, i);
      if (j !== i) i = j;
      else if ('{[('.includes(text[i])) i = matching(text, i) + 1;
      else i++;
    }
    i++;
  }
}

/** The value of `key` in the object at `open`: exactly one, written as a property, not overridable by a later spread. */
function member(text: string, open: number, key: string, where: string, hint: string): number {
  const all = members(text, open);
  const found = all.filter((m) => m.key === key);
  if (found.length > 1) throw new ConfigEditError(`${where} has ${key} written ${found.length} times; keep one and try again`);
  if (found.length === 0) {
    const spread = all.some((m) => m.key === undefined);
    throw new ConfigEditError(`${where} has no ${key} written in the file${spread ? ' (it may come from a spread such as ...BASE)' : ''}; ${hint}`);
  }
  const idx = all.indexOf(found[0]);
  if (all.slice(idx + 1).some((m) => m.key === undefined)) {
    throw new ConfigEditError(`${where}.${key} is followed by a spread that may override it; move the spread before ${key}, or edit the file by hand`);
  }
  return found[0].value;
}

function objectAt(text: string, i: number, where: string, hint: string): number {
  if (text[i] !== '{') throw new ConfigEditError(`${where} is not an object literal in the file (${JSON.stringify(text.slice(i, i + 40).split('\n')[0])}); ${hint}`);
  return i;
}

export interface VersionEdit {
  readonly text: string;
  /** The version the file said before. */
  readonly before: string;
  /** 1-based line of the edited literal. */
  readonly line: number;
}

/**
 * Sets `services.<service>.colors.<color>.version` of the exported config object in `text` to `version`. Throws
 * ConfigEditError (naming what and why) when it cannot find exactly one such string literal.
 */
export function setColorVersion(text: string, file: string, service: string, color: string, version: string): VersionEdit {
  const hint = `write it out in ${file} (e.g. colors: { blue: { version: '1.0.0' }, green: { version: '1.0.0' } }) or edit the version by hand`;
  const exports = [...text.matchAll(/export\s+const\s+[\w$]+\s*(?::\s*[\w$.<>]+\s*)?=\s*\{/g)];
  if (exports.length !== 1) throw new ConfigEditError(`${file}: expected exactly one exported config object (export const x: EnvironmentConfig = { … }), found ${exports.length}`);
  const root = exports[0].index! + exports[0][0].length - 1;
  const services = objectAt(text, member(text, root, 'services', file, hint), `${file} services`, hint);
  const svc = objectAt(text, member(text, services, service, `${file} services`, `no service ${service} in ${file}`), `${file} services.${service}`, hint);
  const colors = objectAt(text, member(text, svc, 'colors', `${file} services.${service}`, hint), `${file} services.${service}.colors`, hint);
  const col = objectAt(text, member(text, colors, color, `${file} services.${service}.colors`, hint), `${file} services.${service}.colors.${color}`, hint);
  const at = member(text, col, 'version', `${file} services.${service}.colors.${color}`, hint);
  const q = text[at];
  const end = q === "'" || q === '"' ? skipLiteral(text, at) : at;
  if (end === at || text.slice(at + 1, end - 1).includes('\\')) {
    throw new ConfigEditError(`${file} services.${service}.colors.${color}.version is not a plain string literal (${JSON.stringify(text.slice(at, at + 40).split(/[,\n}]/)[0])}); ${hint}`);
  }
  return { text: `${text.slice(0, at + 1)}${version}${text.slice(end - 1)}`, before: text.slice(at + 1, end - 1), line: text.slice(0, at).split('\n').length };
}

/** `- old` / `+ new` lines of every line that differs between two texts of the same number of lines. */
export function lineDiff(file: string, before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: string[] = [];
  a.forEach((l, i) => {
    if (l !== b[i]) out.push(`${file}:${i + 1}`, `- ${l.trim()}`, `+ ${(b[i] ?? '').trim()}`);
  });
  return out;
}
