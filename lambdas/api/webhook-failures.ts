/** GET /packs/{id}/webhook-failures: the deliveries the webhook sender gave up on. */
import type { Operation } from './operation.ts';
import { packOr404 } from './read-packs.ts';
import { webhookFailureSchema } from './schemas.ts';

export const listWebhookFailures: Operation<'listWebhookFailures'> = async (req) => {
  const pack = await packOr404(req.pathParams.id) as Awaited<ReturnType<typeof packOr404>> & { webhookFailures?: unknown[] };
  const items = (pack.webhookFailures ?? []).flatMap((f) => {
    const parsed = webhookFailureSchema.safeParse(f);
    return parsed.success ? [parsed.data] : [];
  });
  return { status: 200, body: { packId: pack.packId, total: pack.webhookFailureCount ?? items.length, items } };
};
