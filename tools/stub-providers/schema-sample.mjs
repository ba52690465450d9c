// A small, deterministic JSON generator for the stub LLM's structured outputs: given a JSON schema
// (the subset OpenAI's structured outputs accept, plus the usual bounds) and a seed, it builds a
// value that validates against the schema. Strings are made of words taken from the prompt (and
// a fixed list), chosen by a hash of the seed and the value's place in the document, so the same
// request always gets the same answer and different requests get different ones.
import { createHash } from 'node:crypto';

const fallbackWords = (
  'amber breeze canyon delta ember fjord glimmer harbor island juniper kettle lantern meadow ' +
  'nectar orchard pebble quartz ripple summit thistle umber velvet willow zephyr cosy sunny ' +
  'quiet playful curious bright gentle swift'
).split(' ');

const stopWords = new Set(
  (
    'and are but for from give has have into its that the their this was were with without you ' +
    'your each which what when where who why how write short three about only answer json'
  ).split(' '),
);

/** The words of a text worth repeating back: lowercase, 3-24 letters, no stop words, unique. */
export function wordsOf(text, limit = 48) {
  const seen = new Set();
  const words =
    String(text)
      .toLowerCase()
      .match(/\p{L}{3,24}/gu) ?? [];
  for (const word of words) {
    if (stopWords.has(word) || seen.has(word)) continue;
    seen.add(word);
    if (seen.size >= limit) break;
  }
  return [...seen];
}

/** A 32-bit unsigned number from the sha256 of the parts. */
export function hash32(...parts) {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0);
}

const maxDepth = 24;

function resolveRef(root, ref) {
  // Only document-local references (`#/$defs/x`, `#/definitions/x`) can be followed here.
  if (typeof ref !== 'string' || !ref.startsWith('#')) return {};
  let current = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return {};
    current = current[key];
  }
  return current;
}

function typeOf(schema) {
  const declared = Array.isArray(schema.type)
    ? (schema.type.find((t) => t !== 'null') ?? schema.type[0])
    : schema.type;
  if (declared) return declared;
  if (schema.properties || schema.required) return 'object';
  if (schema.items || schema.prefixItems) return 'array';
  return 'string';
}

function stringFor(schema, context, path) {
  const h = hash32(context.seed, path);
  switch (schema.format) {
    case 'date-time':
      return new Date(Date.UTC(2024, 0, 1) + (h % 365) * 86_400_000).toISOString();
    case 'date':
      return new Date(Date.UTC(2024, 0, 1) + (h % 365) * 86_400_000).toISOString().slice(0, 10);
    case 'time':
      return '12:00:00Z';
    case 'email':
      return `stub${h % 1000}@example.com`;
    case 'uri':
    case 'url':
      return `https://example.com/stub/${h.toString(16)}`;
    case 'uuid': {
      const hex = createHash('sha256').update(`${context.seed}\u0000${path}`).digest('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    }
    default:
      break;
  }
  const pool = context.words;
  const count = 2 + (h % 3);
  const picked = [];
  for (let i = 0; i < count; i += 1) picked.push(pool[hash32(context.seed, path, i) % pool.length]);
  let text = picked.join(' ');
  text = text.charAt(0).toUpperCase() + text.slice(1);
  const min = Number.isInteger(schema.minLength) ? schema.minLength : 0;
  const max = Number.isInteger(schema.maxLength) ? schema.maxLength : Infinity;
  while (text.length < min)
    text += ` ${pool[hash32(context.seed, path, text.length) % pool.length]}`;
  if (text.length > max) text = text.slice(0, max).trimEnd();
  while (text.length < min) text += 'x';
  return text;
}

function numberFor(schema, context, path, integer) {
  const h = hash32(context.seed, path);
  let low = typeof schema.minimum === 'number' ? schema.minimum : undefined;
  let high = typeof schema.maximum === 'number' ? schema.maximum : undefined;
  if (typeof schema.exclusiveMinimum === 'number')
    low = integer ? Math.floor(schema.exclusiveMinimum) + 1 : schema.exclusiveMinimum + 1e-6;
  if (typeof schema.exclusiveMaximum === 'number')
    high = integer ? Math.ceil(schema.exclusiveMaximum) - 1 : schema.exclusiveMaximum - 1e-6;
  if (low === undefined && high === undefined) {
    low = 0;
    high = 100;
  } else if (low === undefined) low = Math.min(0, high - 100);
  else if (high === undefined) high = low + 100;
  const step =
    typeof schema.multipleOf === 'number' && schema.multipleOf > 0 ? schema.multipleOf : 0;
  if (integer || step) {
    const unit = step || 1;
    const first = Math.ceil(low / unit);
    const last = Math.floor(high / unit);
    if (last < first) return integer ? Math.ceil(low) : low;
    const value = (first + (h % (last - first + 1))) * unit;
    return integer ? Math.round(value) : value;
  }
  return Math.round((low + ((h % 10_000) / 10_000) * (high - low)) * 100) / 100;
}

function arrayFor(schema, context, path, depth) {
  // Tuples: `prefixItems` (2020-12) then `items`, or an `items` array (draft-07, Ajv's default)
  // then `additionalItems`.
  const tuple = Array.isArray(schema.items);
  const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : tuple ? schema.items : [];
  const rest = tuple ? schema.additionalItems : schema.items;
  const min = Number.isInteger(schema.minItems) ? schema.minItems : undefined;
  const max = Number.isInteger(schema.maxItems) ? schema.maxItems : Infinity;
  let count = Math.min(min ?? 3, max);
  if (rest === false || (prefix.length > 0 && min === undefined))
    count = Math.min(count, prefix.length);
  count = Math.max(count, Math.min(prefix.length, max));
  const items = [];
  const seen = new Set();
  for (let i = 0; i < count; i += 1) {
    const itemSchema = i < prefix.length ? prefix[i] : rest === false ? {} : rest;
    let item = sample(itemSchema ?? {}, context, `${path}[${i}]`, depth + 1);
    // uniqueItems: a few other draws for an item that repeats an earlier one.
    for (let salt = 1; schema.uniqueItems && seen.has(JSON.stringify(item)) && salt < 8; salt += 1)
      item = sample(itemSchema ?? {}, context, `${path}[${i}]#${salt}`, depth + 1);
    seen.add(JSON.stringify(item));
    items.push(item);
  }
  return items;
}

function objectFor(schema, context, path, depth) {
  const result = {};
  const properties =
    typeof schema.properties === 'object' && schema.properties !== null ? schema.properties : {};
  // Every declared property (strict structured outputs require them all), then any required one
  // the schema names without describing.
  for (const [name, propertySchema] of Object.entries(properties))
    result[name] = sample(propertySchema, context, `${path}.${name}`, depth + 1);
  for (const name of Array.isArray(schema.required) ? schema.required : [])
    if (!Object.hasOwn(result, name)) result[name] = stringFor({}, context, `${path}.${name}`);
  return result;
}

function sample(schema, context, path, depth) {
  if (schema === true || schema === undefined || schema === null) schema = {};
  if (schema === false || depth > maxDepth) return null;
  if (typeof schema.$ref === 'string')
    return sample(resolveRef(context.root, schema.$ref), context, path, depth + 1);
  if (Object.hasOwn(schema, 'const')) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf'])
    if (Array.isArray(schema[key]) && schema[key].length > 0) {
      const choice = schema[key].find((s) => s && s.type !== 'null') ?? schema[key][0];
      return sample(choice, context, path, depth + 1);
    }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const merged = { ...schema, allOf: undefined, properties: { ...schema.properties } };
    const required = new Set(schema.required ?? []);
    for (const part of schema.allOf) {
      const resolved =
        part && typeof part.$ref === 'string' ? resolveRef(context.root, part.$ref) : part;
      if (!resolved || typeof resolved !== 'object') continue;
      Object.assign(merged.properties, resolved.properties);
      for (const name of resolved.required ?? []) required.add(name);
      merged.type ??= resolved.type;
    }
    merged.required = [...required];
    delete merged.allOf;
    return sample(merged, context, path, depth + 1);
  }
  switch (typeOf(schema)) {
    case 'object':
      return objectFor(schema, context, path, depth);
    case 'array':
      return arrayFor(schema, context, path, depth);
    case 'integer':
      return numberFor(schema, context, path, true);
    case 'number':
      return numberFor(schema, context, path, false);
    case 'boolean':
      return hash32(context.seed, path) % 2 === 0;
    case 'null':
      return null;
    default:
      return stringFor(schema, context, path);
  }
}

/**
 * A value for `schema`, the same for the same (schema, seed, prompt). `prompt` lends its words to
 * the strings, so the answer reads as if it were about the question.
 */
export function sampleFromSchema(schema, { seed = '', prompt = '' } = {}) {
  const words = [...wordsOf(prompt), ...fallbackWords];
  return sample(schema, { root: schema, seed, words }, '$', 0);
}
