import { stopSharedCluster, stopSharedRedis } from './redis.ts';

export const mochaHooks = {
  async afterAll() {
    await stopSharedRedis();
    await stopSharedCluster();
  },
};
