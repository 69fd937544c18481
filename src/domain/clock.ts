/** Milliseconds since the epoch; passed in so that tests control time. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
