/** GET /packs/{id}/webhook-failures: the deliveries the webhook sender gave up on. */
import type { Operation } from './operation.ts';
import { packOr404 } from './read-packs.ts';

export const listWebhookFailures: Operation<'listWebhookFailures'> = async (req) => {
  const pack = await packOr404(req.pathParams.id);
  return { status: 200, body: { packId: pack.packId, total: Math.max(pack.webhookFailureCount, pack.webhookFailures.length), items: pack.webhookFailures } };
};
