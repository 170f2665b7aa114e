export { type Envelope, type JsonRpcId, type MessageKind, scanEnvelope } from './envelope.js';
export { ErrorCode, encode, errorResponse, type JsonRpcErrorResponse } from './errors.js';
export { idKey } from './id.js';
