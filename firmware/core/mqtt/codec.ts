/**
 * MQTT 3.1.1 codec: encoders and an incremental, bounded parser.
 *
 * XS-clean: ES2022 built-ins only, no TextEncoder, no Buffer, no globals with side effects.
 *
 * Parser properties (see docs/mqtt-client.md):
 * - feed() accepts any split or merge of the byte stream;
 * - it never holds more than one packet body, whose size is checked against
 *   maxPacketBytes from the remaining-length field BEFORE the body is allocated;
 * - malformed input yields a coded error and the parser stays dead until reset().
 */
export * from "./packets";
export * from "./strings";
export * from "./encode";
export * from "./decode";
