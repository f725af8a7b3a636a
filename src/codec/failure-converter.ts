// Loaded by path (inside the workflow sandbox too) when payloads are encrypted: failures' messages
// and stack traces travel as an encoded payload, which the payload codec then encrypts.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
