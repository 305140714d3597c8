/** Progress messages; the CLI prints them on stderr, tests collect them. */
export type Log = (message: string) => void;
export const silent: Log = () => {};
