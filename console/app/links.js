/** Links the pages share: to a pack, a job, and an execution (local history offline, the AWS console deployed). */
import { h } from './dom.js';
import { shortId } from './format.js';

export const packHref = (packId) => `#/packs/${packId}`;
export const jobHref = (jobId) => `#/jobs/${jobId}`;

/** The execution link: offline the console's own history page, deployed the Step Functions console link the API gives. */
export function executionLink(config, view, label = 'Execution') {
  if (!view.executionArn) return h('span', { class: 'muted' }, 'no execution yet');
  // Executions are named <id>-<run>.
  const run = view.executionArn.split(':').pop().split('-').pop();
  if (config.localHistory) {
    return h('a', { href: `#/executions/${encodeURIComponent(view.executionArn)}`, class: 'exec-link', title: view.executionArn }, `${label} history, run ${run}`);
  }
  if (view.consoleUrl && view.consoleUrl.startsWith('https://')) {
    return h('a', { href: view.consoleUrl, target: '_blank', rel: 'noopener noreferrer', class: 'exec-link', title: view.executionArn },
      `${label} run ${run} in the Step Functions console`, h('span', { class: 'sr-only' }, ' (opens in a new tab)'), ' ↗');
  }
  return h('code', null, view.executionArn);
}

export function jobLink(jobId) {
  return h('a', { href: jobHref(jobId), class: 'mono', 'aria-label': `Job ${jobId}` }, shortId(jobId));
}
