/**
 * Errors users see, and the one function that words them.
 *
 * Every message has the form
 * `For '<owner>', the '<what>' must be <rule>, but got <value>.`
 * so that it names the offending option or key, the rule and the value received.
 */

/** A value of the right type but outside the allowed range or shape (Python's `ValueError`). */
export class ValueError extends RangeError {
  constructor(message?: string) {
    super(message);
    this.name = 'ValueError';
  }
}

const MAX_SHOWN = 40;

/** A value already worded for a message (a shape `[3, 3]`, a name `'w'`): shown as it is. */
export class Shown {
  constructor(readonly text: string) {}
}

/** `text` shown in a message as it is (not as "the string '…'"). */
export const shown = (text: string): Shown => new Shown(text);

/** "a" or "an" before a word. */
const article = (word: string): string => (/^[aeiou]/i.test(word) ? 'an' : 'a');

/** A TensorFlow.js tensor or variable (duck-typed: this package does not load tfjs for it). */
function isTfjsTensor(value: object): value is { dtype: string; shape: number[] } {
  const v = value as { dataSync?: unknown; shape?: unknown; dtype?: unknown; dataId?: unknown };
  return typeof v.dataSync === 'function' && Array.isArray(v.shape) && typeof v.dtype === 'string' && v.dataId !== undefined;
}

/** A short, unambiguous description of any value for an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Shown) return value.text;
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string': {
      const shown = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
      return `the string '${shown}'`;
    }
    case 'bigint':
      return `the bigint ${value}n`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'symbol':
      return value.toString();
    case 'function':
      return `a function${value.name ? ` '${value.name}'` : ''}`;
    default:
      break;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) {
    const length = (value as unknown as { length?: number }).length;
    const kind = Object.prototype.toString.call(value).slice(8, -1);
    return length === undefined ? `${article(kind)} ${kind}` : `${article(kind)} ${kind} of length ${length}`;
  }
  if (isTfjsTensor(value as object)) {
    const { dtype, shape } = value as { dtype: string; shape: number[] };
    return (
      `a TensorFlow.js tensor (${dtype} [${shape.join(', ')}]; pass its dataSync() array, ` +
      "or train through TfjsRMSProp from 'rmsprop-native/tfjs')"
    );
  }
  const ctor = (value as { constructor?: { name?: string } }).constructor;
  return ctor && ctor.name && ctor.name !== 'Object' ? `${article(ctor.name)} ${ctor.name}` : 'an object';
}

/** `what` in a message: a key or path in quotes; a phrase that quotes its own names as it is. */
const subject = (what: string): string => (/^[\w.$[\]()]+$/.test(what) ? `'${what}'` : what);

/** The message of every validation error: names what, the rule and the value received. */
export function mustBe(owner: string, what: string, rule: string, value: unknown): string {
  return `For '${owner}', the ${subject(what)} must be ${rule}, but got ${describeValue(value)}.`;
}

/** A `TypeError` for a value of the wrong type. */
export function typeError(owner: string, what: string, expected: string, value: unknown): TypeError {
  return new TypeError(mustBe(owner, what, expected, value));
}

/** A `ValueError` for a value of the right type that breaks a rule. */
export function valueError(owner: string, what: string, rule: string, value: unknown): ValueError {
  return new ValueError(mustBe(owner, what, rule, value));
}

/** Edits (insert, delete, substitute, swap two neighbours) between two words: the optimal string alignment distance. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The key a mistyped one most likely meant, if any: the same in another case or snake_case, a
 * known alias, else the one name within two edits (a typo, two swapped letters; one edit for
 * keys of up to 5 letters) when no other is as near.
 */
export function suggestKey(
  key: string,
  names: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const camel = key.replace(/_+([a-zA-Z])/g, (_, c: string) => c.toUpperCase());
  const folded = camel.toLowerCase();
  const exact = names.find((name) => name.toLowerCase() === folded) ?? aliases[key] ?? aliases[camel] ?? aliases[folded];
  if (exact) return exact;
  const limit = folded.length <= 5 ? 1 : 2;
  const near = names.map((name) => ({ name, edits: editDistance(folded, name.toLowerCase()) })).filter((n) => n.edits <= limit);
  const best = Math.min(...near.map((n) => n.edits));
  const nearest = near.filter((n) => n.edits === best);
  return nearest.length === 1 ? nearest[0].name : undefined;
}

/** A `TypeError` for an unknown key, naming it and the likely intended one. */
export function unknownKeyError(
  owner: string,
  kind: string,
  key: string,
  names: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): TypeError {
  const suggestion = suggestKey(key, names, aliases);
  const hint = suggestion ? ` Did you mean '${suggestion}'?` : '';
  return new TypeError(
    `For '${owner}', '${key}' is not a known ${kind}.${hint} The ${kind}s are: ${names.join(', ')}.`,
  );
}
