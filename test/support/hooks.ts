import { stopSharedCluster, stopSharedRedis } from './redis.ts';
import { dropLeftoverSchemas } from './database.ts';

export const mochaHooks = {
  async afterAll() {
    await stopSharedRedis();
    await stopSharedCluster();
    await dropLeftoverSchemas();
  },
};
