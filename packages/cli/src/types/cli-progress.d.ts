// The part of cli-progress 3.12 the CLI uses (the package ships no types).
declare module 'cli-progress' {
  interface Options {
    stream?: NodeJS.WritableStream;
    format?: string;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
  }
  export class SingleBar {
    constructor(opts: Options, preset?: object);
    start(total: number, value: number, payload?: Record<string, unknown>): void;
    increment(delta?: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  export const Presets: { shades_classic: object };
  const _default: { SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default _default;
}
