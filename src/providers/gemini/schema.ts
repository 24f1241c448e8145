/**
 * JSON Schema cleanup for Gemini's `parametersJsonSchema` / `responseJsonSchema`. Those fields take real
 * JSON Schema (unlike the classic OpenAPI-subset `parameters` / `responseSchema`, which reject unknown
 * keywords such as `additionalProperties` or `$schema` with a 400), so only the few things Gemini refuses
 * are removed here: meta keywords, and siblings of `$ref` (the API allows only `$`-keywords next to it).
 */

type Schema = Record<string, unknown>;

/** Keywords that carry no constraint and that the API has been seen to refuse. */
const DROPPED = new Set(['$schema', '$comment']);

/** Keywords whose value is a map of name -> subschema (the names are data, never keywords). */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas']);
/** Keywords whose value is a list of subschemas. */
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
/** Keywords whose value is one subschema (`items` may also be a list, in older drafts). */
const SCHEMA_SINGLE = new Set([
  'items',
  'additionalProperties',
  'additionalItems',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedProperties',
  'unevaluatedItems',
]);

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns a cleaned copy; values of `enum`, `const`, `default`, `examples` are data and are left alone. */
export function cleanJsonSchema(schema: Schema): Schema {
  const out: Schema = {};
  const hasRef = typeof schema.$ref === 'string';
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED.has(key)) continue;
    if (hasRef && !key.startsWith('$')) continue;
    out[key] = cleanKeyword(key, value);
  }
  return out;
}

function cleanKeyword(key: string, value: unknown): unknown {
  if (SCHEMA_MAPS.has(key) && isObject(value)) {
    const map: Schema = {};
    for (const [name, sub] of Object.entries(value)) map[name] = isObject(sub) ? cleanJsonSchema(sub) : sub;
    return map;
  }
  if (SCHEMA_LISTS.has(key) && Array.isArray(value)) return value.map((s) => (isObject(s) ? cleanJsonSchema(s) : s));
  if (SCHEMA_SINGLE.has(key)) {
    if (isObject(value)) return cleanJsonSchema(value);
    if (Array.isArray(value)) return value.map((s) => (isObject(s) ? cleanJsonSchema(s) : s));
  }
  return value;
}

/** True for a schema that declares no parameters at all (`{}` or an object type without properties). */
export function isEmptyObjectSchema(schema: Schema): boolean {
  const props = schema.properties;
  const noProps = props === undefined || (isObject(props) && Object.keys(props).length === 0);
  const onlyObjectKeywords = Object.keys(schema).every((k) => ['type', 'properties', 'required', 'additionalProperties', '$schema', 'description', 'title'].includes(k));
  const noRequired = !Array.isArray(schema.required) || schema.required.length === 0;
  return noProps && noRequired && onlyObjectKeywords && (schema.type === undefined || schema.type === 'object');
}
