// What the control plane's OpenAPI document says about its values: the endpoint names, the
// fault kinds, the tamper modes and every option with its type and description. The dashboard
// reads them from the mock it talks to (`GET /__mock__/openapi.json`), so its lists and its
// options form follow the mock rather than a copy kept here.

import { get } from "./api.js";

let doc = null;

/** Loads the document once. */
export async function load() {
  if (!doc) doc = await get("/openapi.json");
  return doc;
}

function resolve(schema) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 8; i++) {
    s = doc?.components?.schemas?.[s.$ref.split("/").pop()];
  }
  return s ?? {};
}

/**
 * The values a schema allows when it lists them: an `enum`, or a `oneOf`/`anyOf` whose every
 * branch is a `const` (how the generated schemas give each value its own description); else null.
 */
function listed(s) {
  if (Array.isArray(s?.enum)) return s.enum.filter((v) => v !== null);
  const branches = s?.oneOf ?? s?.anyOf;
  if (Array.isArray(branches) && branches.length > 0 && branches.every((b) => "const" in b)) {
    return branches.map((b) => b.const).filter((v) => v !== null);
  }
  return null;
}

/** The values of the component schema `name` (`EndpointName`, `Transport`, ...), or []. */
export function values(name) {
  return listed(doc?.components?.schemas?.[name]) ?? [];
}

/**
 * Describes one property schema as a form field: `{ kind, nullable, values, minimum, ref }`,
 * kind one of `boolean`, `integer`, `number`, `enum`, `duration`, `string`, `json`.
 */
export function field(prop) {
  let nullable = false;
  let s = prop;
  // `allOf` with one branch is how a `$ref` carries its own description and default.
  if (Array.isArray(s.allOf) && s.allOf.length === 1) s = s.allOf[0];
  if (Array.isArray(s.anyOf)) {
    const branches = s.anyOf.filter((b) => b.type !== "null");
    nullable = branches.length < s.anyOf.length;
    s = branches.length === 1 ? branches[0] : { anyOf: branches };
  }
  const ref = s.$ref ? s.$ref.split("/").pop() : null;
  const r = resolve(s);
  let type = r.type;
  if (Array.isArray(type)) {
    nullable = nullable || type.includes("null");
    type = type.find((t) => t !== "null");
  }
  const out = { nullable, minimum: r.minimum, ref };
  const allowed = listed(r);
  if (allowed) return { ...out, kind: "enum", values: allowed };
  if (ref === "Duration") return { ...out, kind: "duration" };
  if (type === "boolean" || type === "integer" || type === "number" || type === "string") return { ...out, kind: type };
  return { ...out, kind: "json" };
}

/** Every option as `{ name, description, default, ...field(prop) }`, in the document's order. */
export function options() {
  const props = doc?.components?.schemas?.OptionsPatch?.properties ?? {};
  return Object.entries(props).map(([name, prop]) => ({
    name,
    description: prop.description ?? resolve(prop).description ?? "",
    default: prop.default,
    ...field(prop),
  }));
}
