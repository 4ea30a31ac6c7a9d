// What can go wrong between wgpt and the Hugging Face hub, each with a one-line message that says what to do.
// The CLI prints a HubError without a stack trace (its name is in USER_ERROR_NAMES, src/errors.ts).

export type HubErrorCode =
  | 'bad-id' // not an org/name model id
  | 'not-found' // no such model, revision or file on the hub
  | 'denied' // gated or private: HTTP 401 / 403
  | 'network' // the hub cannot be reached, or the connection broke (a pull retries these)
  | 'http' // any other refusal from the server
  | 'checksum' // a download's size or sha256 differs from what the hub says
  | 'bad-name' // a file name from the server or an index would leave the cache folder
  | 'not-a-model' // the repository has no config.json or no safetensors weights
  | 'offline'; // the model is not in the cache and downloading is forbidden

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly code: HubErrorCode,
    message: string,
  ) {
    super(message);
  }
}
