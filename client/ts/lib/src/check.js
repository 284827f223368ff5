import { Code } from "@connectrpc/connect";
import { StatehouseError } from "./errors.js";
const fold = (name) => name.toLowerCase().replace(/[_-]/g, "");
function unknownField(desc, key) {
    const names = [...desc.fields.map((f) => f.localName), ...desc.oneofs.map((o) => o.localName)];
    const close = names.find((name) => fold(name) === fold(key));
    const text = `is not a field of ${desc.name}`;
    return close ? `${text}: did you mean ${close}?` : `${text} (its fields: ${names.join(", ") || "none"})`;
}
function isPlainObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
function checkEnum(desc, value, at, out) {
    if (typeof value === "number" && desc.values.some((v) => v.number === value))
        return;
    const names = desc.values.filter((v) => v.number !== 0).map((v) => `${desc.name}.${v.localName}`);
    const given = typeof value === "string" ? JSON.stringify(value) : String(value);
    const named = typeof value === "string" ? desc.values.find((v) => v.name === value || v.localName === value) : undefined;
    const hint = named ? `use ${desc.name}.${named.localName} (${named.number})` : `expected one of ${names.join(", ")}`;
    out.push({ field: at, description: `${given} is not a value of ${desc.name}: ${hint}`, reason: "" });
}
function checkValue(field, value, at, out) {
    if (value === undefined || value === null)
        return;
    const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : field.fieldKind;
    if (kind === "enum" && field.enum)
        checkEnum(field.enum, value, at, out);
    else if (kind === "message" && field.message)
        checkMessage(field.message, value, `${at}.`, out);
}
/** Appends the violations of `value` as a `desc` message, its fields named with `prefix`. */
export function checkMessage(desc, value, prefix, out) {
    if (!isPlainObject(value)) {
        out.push({ field: prefix.slice(0, -1) || "request", description: `must be an object (${desc.name})`, reason: "" });
        return;
    }
    if ("$typeName" in value)
        return; // a message made with create(): checked by its type
    if (desc.typeName.startsWith("google.protobuf."))
        return; // well-known types: as protobuf-es takes them
    for (const [key, item] of Object.entries(value)) {
        const at = `${prefix}${key}`;
        if (item === undefined)
            continue;
        const field = desc.fields.find((f) => f.localName === key && !f.oneof);
        if (field) {
            if (field.fieldKind === "list" && Array.isArray(item)) {
                item.forEach((element, i) => checkValue(field, element, `${at}[${i}]`, out));
            }
            else if (field.fieldKind === "map" && isPlainObject(item)) {
                for (const [k, element] of Object.entries(item))
                    checkValue(field, element, `${at}['${k}']`, out);
            }
            else if (field.fieldKind !== "list" && field.fieldKind !== "map") {
                checkValue(field, item, at, out);
            }
            continue;
        }
        const oneof = desc.oneofs.find((o) => o.localName === key);
        if (!oneof) {
            out.push({ field: at, description: unknownField(desc, key), reason: "" });
            continue;
        }
        const chosen = item;
        if (!isPlainObject(chosen) || chosen.case === undefined)
            continue;
        const member = oneof.fields.find((f) => f.localName === chosen.case);
        if (!member) {
            out.push({
                field: `${at}.case`,
                description: `${JSON.stringify(chosen.case)} is not a field of ${oneof.name} (${oneof.fields.map((f) => f.localName).join(", ")})`,
                reason: "",
            });
        }
        else {
            checkValue(member, chosen.value, `${at}.value`, out);
        }
    }
}
/**
 * The INVALID_ARGUMENT error (reason MALFORMED_REQUEST, a field violation for
 * each) a request is refused with before it is sent, or null when it may go.
 */
export function refusal(desc, request) {
    const violations = [];
    checkMessage(desc, request ?? {}, "", violations);
    if (violations.length === 0)
        return null;
    const message = `${violations.map((v) => `${v.field}: ${v.description}`).join("; ")} (refused before sending)`;
    return new StatehouseError(Code.InvalidArgument, message, [
        { type: "google.rpc.ErrorInfo", reason: "MALFORMED_REQUEST", domain: "statehouse", metadata: {} },
        { type: "google.rpc.BadRequest", fieldViolations: violations },
    ]);
}
