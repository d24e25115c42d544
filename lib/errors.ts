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
export const article = (word: string): string => (/^[aeiou]/i.test(word) ? 'an' : 'a');

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
