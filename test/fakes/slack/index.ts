export { FakeSlack, DEFAULT_RATE_LIMITS, RESPONSE_URL_MAX_USES, type ApiCall, type FakeSlackOptions } from './fake-slack.js';
export { Workspace, MAX_TEXT_CHARS, MAX_STREAM_CHUNK_CHARS, type FakeMessage, type FakeUser } from './model.js';
export { signSlackRequest, postSigned, type DeliveryResult } from './signing.js';
