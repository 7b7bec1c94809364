/**
 * A JSON Schema (draft-07, for ajv) subset of FHIR R4 for Bundle (collection) of
 * MedicationAdministration: required elements and cardinalities, the status value set,
 * primitive formats (id, dateTime, uri), invariant mad-1 (dosage needs dose or rate[x]) and
 * choice types medication[x] / effective[x] (exactly one). Written from the R4 specification
 * (hl7.org/fhir/R4/medicationadministration.html); no official schema package is used.
 */
const dateTime = {
  type: "string",
  pattern:
    "^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$",
};
const instant = {
  type: "string",
  pattern:
    "^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$",
};
const id = { type: "string", pattern: "^[A-Za-z0-9\\-\\.]{1,64}$" };
const uri = { type: "string", pattern: "^\\S*$", minLength: 1 };
const str = { type: "string", minLength: 1 };

export const fhirR4MedicationAdministrationSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "urn:dosekeeper:fhir-r4-subset",
  definitions: {
    Coding: {
      type: "object",
      additionalProperties: false,
      properties: {
        system: uri,
        version: str,
        code: { type: "string", pattern: "^[^\\s]+( [^\\s]+)*$" },
        display: str,
        userSelected: { type: "boolean" },
      },
    },
    CodeableConcept: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      properties: { coding: { type: "array", minItems: 1, items: { $ref: "#/definitions/Coding" } }, text: str },
    },
    Identifier: {
      type: "object",
      additionalProperties: false,
      properties: { use: { enum: ["usual", "official", "temp", "secondary", "old"] }, system: uri, value: str },
    },
    Reference: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      properties: { reference: str, type: uri, identifier: { $ref: "#/definitions/Identifier" }, display: str },
    },
    Quantity: {
      type: "object",
      additionalProperties: false,
      properties: { value: { type: "number" }, comparator: { enum: ["<", "<=", ">=", ">"] }, unit: str, system: uri, code: str },
    },
    Annotation: {
      type: "object",
      additionalProperties: false,
      required: ["text"],
      properties: { text: str, time: dateTime, authorString: str },
    },
    Period: { type: "object", additionalProperties: false, properties: { start: dateTime, end: dateTime } },
    MedicationAdministration: {
      type: "object",
      additionalProperties: false,
      required: ["resourceType", "status", "subject"],
      properties: {
        resourceType: { const: "MedicationAdministration" },
        id,
        identifier: { type: "array", items: { $ref: "#/definitions/Identifier" } },
        instantiates: { type: "array", items: uri },
        partOf: { type: "array", items: { $ref: "#/definitions/Reference" } },
        status: { enum: ["in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"] },
        statusReason: { type: "array", items: { $ref: "#/definitions/CodeableConcept" } },
        category: { $ref: "#/definitions/CodeableConcept" },
        medicationCodeableConcept: { $ref: "#/definitions/CodeableConcept" },
        medicationReference: { $ref: "#/definitions/Reference" },
        subject: { $ref: "#/definitions/Reference" },
        context: { $ref: "#/definitions/Reference" },
        supportingInformation: { type: "array", items: { $ref: "#/definitions/Reference" } },
        effectiveDateTime: dateTime,
        effectivePeriod: { $ref: "#/definitions/Period" },
        performer: { type: "array" },
        reasonCode: { type: "array", items: { $ref: "#/definitions/CodeableConcept" } },
        reasonReference: { type: "array", items: { $ref: "#/definitions/Reference" } },
        request: { $ref: "#/definitions/Reference" },
        device: { type: "array", items: { $ref: "#/definitions/Reference" } },
        note: { type: "array", items: { $ref: "#/definitions/Annotation" } },
        dosage: {
          type: "object",
          additionalProperties: false,
          properties: {
            text: str,
            site: { $ref: "#/definitions/CodeableConcept" },
            route: { $ref: "#/definitions/CodeableConcept" },
            method: { $ref: "#/definitions/CodeableConcept" },
            dose: { $ref: "#/definitions/Quantity" },
            rateRatio: { type: "object" },
            rateQuantity: { $ref: "#/definitions/Quantity" },
          },
          // mad-1: SHALL have at least one of dosage.dose or dosage.rate[x]
          anyOf: [{ required: ["dose"] }, { required: ["rateRatio"] }, { required: ["rateQuantity"] }],
        },
        eventHistory: { type: "array", items: { $ref: "#/definitions/Reference" } },
      },
      allOf: [
        { oneOf: [{ required: ["medicationCodeableConcept"] }, { required: ["medicationReference"] }] },
        { oneOf: [{ required: ["effectiveDateTime"] }, { required: ["effectivePeriod"] }] },
      ],
    },
  },
  type: "object",
  additionalProperties: false,
  required: ["resourceType", "type"],
  properties: {
    resourceType: { const: "Bundle" },
    id,
    type: {
      enum: ["document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"],
    },
    timestamp: instant,
    total: { type: "integer", minimum: 0 },
    entry: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        properties: { fullUrl: uri, resource: { $ref: "#/definitions/MedicationAdministration" } },
      },
    },
  },
} as const;
