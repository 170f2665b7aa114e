/**
 * @tollgate/proxy: the transparent MCP proxy. Messages flow
 * client transport -> framing -> router -> (tools/call only) gate -> server transport,
 * and everything the proxy does not change passes as the raw bytes it arrived as.
 */

export { type ChildExit, ChildProcessHandle, type SpawnChildOptions, spawnChild } from '@tollgate/process';
export {
  DENIAL_META_KEY,
  DENIAL_PREFIX,
  type DenialMeta,
  type DenialResult,
  denialResult,
  taskDenialResponse,
} from './denial.js';
export { FRAME_END, FrameWriter, inReadTurn } from './framing/frame-writer.js';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  type LineSink,
  LineSplitter,
  type LineSplitterHandlers,
  type LineSplitterOptions,
  type OversizeMessage,
} from './framing/line-splitter.js';
export type { Gate, GateCall, GateContext, GateDecision, PolicyToolNames, PolicyView } from './gate.js';
// Remote MCP (Streamable HTTP upstream and listener): see http/index.ts.
export * from './http/index.js';
export {
  type Envelope,
  ErrorCode,
  encode,
  errorResponse,
  type JsonRpcId,
  type MessageKind,
  scanEnvelope,
} from './jsonrpc/index.js';
export { type ProxyLogger, silentLogger } from './logger.js';
export { exitCodeOf, runStdioProxy, type StdioProxyExit, type StdioProxyOptions } from './proxy.js';
export {
  callParamsProblem,
  duplicateMemberProblem,
  Router,
  type RouterOptions,
  type RouterStats,
} from './router.js';
export { ToolNameIndex, toolNameKey } from './tool-name-variants.js';
export { type FilteredToolsList, filterToolsList, type ListedTool, ToolCatalogue } from './tools-list.js';
export {
  ChildStdioTransport,
  type ChildStdioTransportOptions,
  DEFAULT_STREAM_AFTER_BYTES,
} from './transport/stdio-child.js';
export { StreamTransport, type StreamTransportOptions } from './transport/stdio-stream.js';
export type {
  CloseInfo,
  IncomingMessageStream,
  MessageTransport,
  OutgoingMessageStream,
  OversizeReport,
} from './transport/types.js';
